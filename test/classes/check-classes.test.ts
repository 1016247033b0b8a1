/**
 * `ssas check` on an application that uses every class of this issue (File, XML, XMLNode, LoadVars,
 * XMLSocket, XMLStreams, WebService, SOAPCall, SOAPFault, Log, ByteArray, SHA256, Flash Remoting with
 * netservices.asc, the component framework): nothing is reported unsupported, and the loads of ssas's own
 * scriptlib are followed.
 */
import * as fs from 'fs';
import * as path from 'path';
import { runCheck } from '../../src/cli/check';
import { makeTempDir, removeDir } from '../support';

const MAIN = String.raw`
load("netservices.asc");
load("components.asc");
application.onAppStart = function () {
  var f = new File("/data/log.txt");
  f.open("text", "append"); f.writeln("start"); f.readln(); f.readAll(); f.readChar(); f.readByte(); f.seek(1); f.flush(); f.close();
  var l = f.list(); f.mkdir("x"); f.remove(true); f.renameTo("/y"); f.copyTo("/z");
  var t = [f.exists, f.isFile, f.isDirectory, f.length, f.position, f.canRead, f.canWrite, f.canAppend, f.canReplace, f.creationTime, f.lastModified, f.name, f.type, f.isOpen];
  var x = new XML("<a/>");
  x.ignoreWhite = true; x.parseXML("<b/>"); x.load("http://127.0.0.1/x"); x.sendAndLoad("http://127.0.0.1/y", new XML());
  x.onLoad = function (ok) {}; x.onData = function (s) {}; x.onHTTPStatus = function (c) {};
  x.addRequestHeader("a", "b"); x.getBytesLoaded(); x.getBytesTotal(); x.createElement("c"); x.createTextNode("t");
  var n = new XMLNode(1, "n"); n.appendChild(x.firstChild); n.cloneNode(true); n.removeNode(); n.hasChildNodes();
  var lv = new LoadVars(); lv.decode("a=1"); lv.load("http://127.0.0.1/v"); lv.send("http://127.0.0.1/v"); lv.sendAndLoad("http://127.0.0.1/v", lv);
  lv.onLoad = function () {}; lv.onData = function () {}; lv.onHTTPStatus = function () {};
  var s = new XMLSocket(); s.connect("127.0.0.1", 9999); s.onConnect = function () {}; s.onXML = function () {}; s.onData = function () {}; s.onClose = function () {}; s.send("<x/>"); s.close();
  var st = new XMLStreams(); st.connect("127.0.0.1", 9998); st.onXML = function () {}; st.close();
  var log = new Log(Log.VERBOSE, "ws"); log.onLog = function (m) {};
  var ws = new WebService("http://127.0.0.1/wsdl", log); ws.onLoad = function () {}; ws.onFault = function () {};
  var call = ws.doIt(1); call.onResult = function () {}; call.onFault = function (fault) { return [fault.faultcode, fault.faultstring, fault.detail, fault.element, fault.faultactor]; };
  var fault = new SOAPFault("c", "s");
  var b = new ByteArray(); b.writeUTF("x"); b.writeInt(1); b.writeObject({}); b.position = 0; b.readUTF(); b.readInt(); b.compress(); b.uncompress();
  SHA256.computeDigest(b);
  var conn = NetServices.createGatewayConnection("http://127.0.0.1/gateway");
  conn.getService("svc", {}).run();
  var nc = new NetConnection(); nc.connect("http://127.0.0.1/gateway"); nc.addHeader("h", false, 1); nc.call("svc.m", null);
};
application.onConnectAccept = function (client) { gFrameworkFC.getClientGlobals(client).username = "x"; };
application.onConnectReject = function (client) {};
`;

let dir: string;
beforeAll(() => {
  dir = makeTempDir('check-classes');
  fs.mkdirSync(path.join(dir, 'everything'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'everything', 'main.asc'), MAIN);
});
afterAll(() => removeDir(dir));

it('reports none of the classes as unsupported and follows ssas\'s scriptlib', async () => {
  const report = await runCheck(dir);
  const app = report.apps[0]!;
  const findings = app.files.flatMap((f) => f.findings.map((x) => `${f.file}:${x.line} ${x.severity} ${x.message}`));
  expect(findings).toEqual([]);
  expect(report.unsupported).toBe(0);
  expect(report.errors).toBe(0);
  const uses = app.files[0]!.uses;
  const unsupported = uses.filter((u) => !u.supported).map((u) => u.api);
  expect(unsupported).toEqual([]);
  for (const cls of ['new File', 'new XML', 'new XMLNode', 'new LoadVars', 'new XMLSocket', 'new XMLStreams', 'new WebService', 'new SOAPFault', 'new Log', 'new ByteArray', 'SHA256.computeDigest']) {
    expect(uses.map((u) => u.api)).toContain(cls);
  }
  expect(app.files.map((f) => f.file)).toEqual(
    expect.arrayContaining(['(ssas scriptlib) netservices.asc', '(ssas scriptlib) components.asc', '(ssas scriptlib) framework.asc', '(ssas scriptlib) components/chat.asc']),
  );
});
