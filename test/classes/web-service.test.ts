/**
 * WebService, SOAPCall, SOAPFault and Log (issue 14) against SOAP 1.1 services run by the `soap` npm package
 * (a real SOAP implementation) on loopback: a document/literal (wrapped) service and an rpc/encoded one,
 * called from an FMS-style application driven by our RTMP client. Results arrive as ActionScript values,
 * faults as SOAPFault, and every failure (WSDL missing or broken, unknown operation, endpoint down, an answer
 * that is not SOAP) reaches onFault.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import { startScriptApps, type ScriptApps } from '../support/script-app';
import { startHttpPeer, type HttpPeer } from '../support/http-peer';
import { until } from '../support';
import type { RtmpClient } from '../../src/net/rtmp-client';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const soap = require('soap') as { listen(server: http.Server, path: string, services: unknown, wsdl: string): unknown };

const calcWsdl = (port: number): string => `<?xml version="1.0" encoding="UTF-8"?>
<definitions name="Calc" targetNamespace="urn:calc" xmlns:tns="urn:calc" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
  xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns="http://schemas.xmlsoap.org/wsdl/">
  <types>
    <xsd:schema targetNamespace="urn:calc" elementFormDefault="qualified">
      <xsd:element name="Add"><xsd:complexType><xsd:sequence>
        <xsd:element name="a" type="xsd:int"/><xsd:element name="b" type="xsd:int"/>
      </xsd:sequence></xsd:complexType></xsd:element>
      <xsd:element name="AddResponse"><xsd:complexType><xsd:sequence>
        <xsd:element name="sum" type="xsd:int"/>
      </xsd:sequence></xsd:complexType></xsd:element>
      <xsd:element name="Lookup"><xsd:complexType><xsd:sequence>
        <xsd:element name="name" type="xsd:string"/>
      </xsd:sequence></xsd:complexType></xsd:element>
      <xsd:complexType name="User"><xsd:sequence>
        <xsd:element name="name" type="xsd:string"/><xsd:element name="age" type="xsd:int"/>
        <xsd:element name="tag" type="xsd:string" maxOccurs="unbounded"/>
      </xsd:sequence></xsd:complexType>
      <xsd:element name="LookupResponse"><xsd:complexType><xsd:sequence>
        <xsd:element name="user" type="tns:User"/><xsd:element name="found" type="xsd:boolean"/>
      </xsd:sequence></xsd:complexType></xsd:element>
    </xsd:schema>
  </types>
  <message name="AddIn"><part name="parameters" element="tns:Add"/></message>
  <message name="AddOut"><part name="parameters" element="tns:AddResponse"/></message>
  <message name="LookupIn"><part name="parameters" element="tns:Lookup"/></message>
  <message name="LookupOut"><part name="parameters" element="tns:LookupResponse"/></message>
  <portType name="CalcPortType">
    <operation name="Add"><input message="tns:AddIn"/><output message="tns:AddOut"/></operation>
    <operation name="Lookup"><input message="tns:LookupIn"/><output message="tns:LookupOut"/></operation>
  </portType>
  <binding name="CalcBinding" type="tns:CalcPortType">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="Add"><soap:operation soapAction="urn:calc#Add"/><input><soap:body use="literal"/></input><output><soap:body use="literal"/></output></operation>
    <operation name="Lookup"><soap:operation soapAction="urn:calc#Lookup"/><input><soap:body use="literal"/></input><output><soap:body use="literal"/></output></operation>
  </binding>
  <service name="CalcService"><port name="CalcPort" binding="tns:CalcBinding"><soap:address location="http://127.0.0.1:${port}/calc"/></port></service>
</definitions>`;

const authWsdl = (port: number): string => `<?xml version="1.0" encoding="UTF-8"?>
<definitions name="Auth" targetNamespace="urn:auth" xmlns:tns="urn:auth" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
  xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns="http://schemas.xmlsoap.org/wsdl/">
  <message name="CheckRequest"><part name="token" type="xsd:string"/><part name="app" type="xsd:string"/></message>
  <message name="CheckResponse"><part name="valid" type="xsd:boolean"/><part name="user" type="xsd:string"/></message>
  <portType name="AuthPortType">
    <operation name="checkToken" parameterOrder="token app"><input message="tns:CheckRequest"/><output message="tns:CheckResponse"/></operation>
  </portType>
  <binding name="AuthBinding" type="tns:AuthPortType">
    <soap:binding style="rpc" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="checkToken"><soap:operation soapAction="urn:auth#checkToken"/>
      <input><soap:body use="encoded" namespace="urn:auth" encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"/></input>
      <output><soap:body use="encoded" namespace="urn:auth" encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"/></output>
    </operation>
  </binding>
  <service name="AuthService"><port name="AuthPort" binding="tns:AuthBinding"><soap:address location="http://127.0.0.1:${port}/auth"/></port></service>
</definitions>`;

const MAIN = String.raw`
var log = [];
Client.prototype.log = function () { var l = log; log = []; return l; };
var wsLog = new Log(Log.VERBOSE, "ws");
var logLines = 0;
wsLog.onLog = function (m) { logLines++; };
Client.prototype.logLines = function () { return logLines; };

function watch(tag, call) {
  call.onResult = function (r) {
    log.push({ tag: tag, result: r, request: String(call.request).length > 0, response: call.response ? call.response.firstChild.nodeName : null });
  };
  call.onFault = function (f) {
    log.push({ tag: tag, fault: { code: f.faultcode, text: f.faultstring, detail: f.detail, actor: f.faultactor, element: f.element ? f.element.nodeName : null, isFault: f instanceof SOAPFault } });
  };
  return call;
}

Client.prototype.calc = function (wsdl) {
  var ws = new WebService(wsdl, wsLog);
  ws.onLoad = function (doc) { log.push({ tag: "onLoad", root: doc.firstChild.localName }); };
  // Called before the WSDL arrived: the calls wait for it.
  watch("add", ws.Add(2, 3));
  watch("addNamed", ws.Add({ a: 40, b: 2 }));
  watch("lookup", ws.Lookup("bob"));
  watch("nope", ws.Missing(1));
  return true;
};

Client.prototype.auth = function (wsdl, token) {
  var ws = new WebService(wsdl);
  watch("auth " + token, ws.checkToken(token, "myapp"));
  return true;
};

Client.prototype.broken = function (wsdl) {
  var ws = new WebService(wsdl);
  ws.onFault = function (f) { log.push({ tag: "wsFault", code: f.faultcode }); };
  watch("broken", ws.Add(1, 2));
  return true;
};
`;

let soapServer: http.Server;
let soapPort: number;
let peer: HttpPeer;
let apps: ScriptApps;
let c: RtmpClient;
const seen: unknown[] = [];

beforeAll(async () => {
  soapServer = http.createServer((_req, res) => {
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => soapServer.listen(0, '127.0.0.1', r));
  soapPort = (soapServer.address() as AddressInfo).port;
  soap.listen(soapServer, '/calc', {
    CalcService: {
      CalcPort: {
        Add: (args: { a: unknown; b: unknown }) => {
          seen.push(args);
          return { sum: Number(args.a) + Number(args.b) };
        },
        Lookup: (args: { name: string }) => ({ user: { name: args.name, age: 42, tag: ['admin', 'ops'] }, found: true }),
      },
    },
  }, calcWsdl(soapPort));
  soap.listen(soapServer, '/auth', {
    AuthService: {
      AuthPort: {
        checkToken: (raw: { token: unknown; app: unknown }) => {
          // The soap package hands an element with attributes (our xsi:type) over as { attributes, $value }.
          const v = (x: unknown): unknown => (x !== null && typeof x === 'object' && '$value' in x ? (x as { $value: unknown }).$value : x);
          const args = { token: v(raw.token), app: v(raw.app) };
          seen.push(args);
          if (args.token === 'bad') {
            throw { Fault: { faultcode: 'soap:Client', faultstring: 'bad token', detail: { reason: 'expired' } } };
          }
          return { valid: true, user: `user-of-${String(args.token)}-${String(args.app)}` };
        },
      },
    },
  }, authWsdl(soapPort));
  peer = await startHttpPeer({
    '/notwsdl': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/xml' }).end('<html><body>hello</body></html>');
    },
    '/wsdl-down': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/xml' }).end(calcWsdl(1));
    },
    '/wsdl-html-endpoint': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/xml' }).end(calcWsdl(peer.port).replace(`127.0.0.1:${peer.port}/calc`, `127.0.0.1:${peer.port}/notwsdl`));
    },
  });
  apps = await startScriptApps({ 'ws/main.asc': MAIN });
  c = await apps.connect('ws');
});

afterAll(async () => {
  await apps?.close();
  await peer?.close();
  await new Promise((r) => soapServer?.close(r));
});

async function logUntil(n: number, ms = 10_000): Promise<Record<string, unknown>[]> {
  const all: Record<string, unknown>[] = [];
  await until(async () => {
    all.push(...((await c.call('log')) as Record<string, unknown>[]));
    return all.length >= n;
  }, ms, `${n} results`);
  return all;
}

const byTag = (l: Record<string, unknown>[]): Record<string, Record<string, unknown>> => Object.fromEntries(l.map((x) => [String(x.tag), x]));

it('document/literal: onLoad, results as ActionScript values (numbers, objects, arrays, booleans), unknown operation faults', async () => {
  expect(await c.call('calc', `http://127.0.0.1:${soapPort}/calc?wsdl`)).toBe(true);
  const r = byTag(await logUntil(5));
  expect(r.onLoad).toEqual({ tag: 'onLoad', root: 'definitions' });
  expect(r.add).toEqual({ tag: 'add', result: 5, request: true, response: 'soap:Envelope' });
  expect(r.addNamed!.result).toBe(42);
  expect(r.lookup!.result).toEqual({ user: { name: 'bob', age: '42', tag: ['admin', 'ops'] }, found: true });
  expect(r.nope!.fault).toMatchObject({ code: 'Client.NoSuchMethod', isFault: true });
  expect(seen).toEqual(expect.arrayContaining([expect.objectContaining({ a: 2, b: 3 })]));
  expect(await c.call('logLines')).toBeGreaterThan(3);
});

it('rpc/encoded: parts in parameterOrder, several output parts as an object, a SOAP Fault as SOAPFault', async () => {
  const wsdl = `http://127.0.0.1:${soapPort}/auth?wsdl`;
  await c.call('auth', wsdl, 'good');
  await c.call('auth', wsdl, 'bad');
  const r = byTag(await logUntil(2));
  expect(r['auth good']!.result).toEqual({ valid: true, user: 'user-of-good-myapp' });
  expect(r['auth bad']!.fault).toMatchObject({ code: 'soap:Client', text: 'bad token', isFault: true, element: 'soap:Fault' });
  expect(String((r['auth bad']!.fault as Record<string, unknown>).detail)).toContain('expired');
});

it('failures reach onFault: a missing WSDL, a document that is not a WSDL, an endpoint that is down or does not speak SOAP', async () => {
  await c.call('broken', `${peer.url}/nothing`);
  let r = await logUntil(2);
  expect(r).toEqual([
    { tag: 'wsFault', code: 'Client.WSDL' },
    { tag: 'broken', fault: expect.objectContaining({ code: 'Client.WSDL', isFault: true }) },
  ]);
  await c.call('broken', `${peer.url}/notwsdl`);
  r = await logUntil(2);
  expect(r.map((x) => x.code ?? (x.fault as Record<string, unknown>).code)).toEqual(['Client.WSDL', 'Client.WSDL']);
  await c.call('broken', `${peer.url}/wsdl-down`);
  r = await logUntil(1);
  expect(r[0]!.fault).toMatchObject({ code: 'Client.HTTP' });
  await c.call('broken', `${peer.url}/wsdl-html-endpoint`);
  r = await logUntil(1);
  expect(r[0]!.fault).toMatchObject({ code: 'Client.BadResponse' });
});
