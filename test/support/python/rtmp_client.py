#!/usr/bin/python3
"""A real RTMP client (python-librtmp on Debian's librtmp) driven by a JSON job, for ssas tests.

librtmp does the TCP connection, handshake and chunk stream (that is the part under test); this script
builds the connect command itself so tests control every field, decodes AMF0 itself so results keep
distinctions librtmp's decoder loses, and reports everything it sees as one JSON object per stdout line.

Job (JSON object, from argv[1] or stdin):
  url          rtmp://127.0.0.1:PORT/app/inst   host and port come from here
  app          app name sent in connect (default: path of url)  -- pass it: librtmp splits paths oddly
  tcUrl        tcUrl sent in connect (default: url)
  connect      dict merged over the connect command object; a null value removes a default field
  connectArgs  list of extra connect arguments (JSON values, see "AMF mapping")
  timeoutSec   deadline for the connect result (default 10)
  calls        list of {"method", "args": [], "wait": true, "timeoutSec": 5}; done in order after connect
  replies      {"method": value}: answer server-to-client calls of that method with _result(value)
  listenSec    keep reading this long after the calls (broadcasts, onBWDone...) (default 0)
  play         {"stream", "start": -2, "durationSec": 3, "bufferMs": 1000}: createStream + play, count media
  strictAmf    tag AMF types JSON cannot tell apart (ecma arrays, undefined) (default false)
  verbose      also report protocol control messages

Output lines ("kind"): connect-sent, command (every command message received), connect (the connect
outcome), call-sent, call-result, call-timeout, reply-sent, data (data messages), so (shared object
messages), control (verbose only), user-control, play-stats, closed, error, done (always last).

AMF mapping JSON -> AMF0: number, bool, string, null as is; list -> strict array; dict -> object;
{"$ecma": {...}} -> ECMA array; {"$undefined": true} -> undefined; {"$date": ms} -> date;
{"$class": "Name", ...} -> typed object. The decoder maps back the same way (ecma/undefined only with
strictAmf). Non-finite numbers become {"$number": "NaN" | "Infinity" | "-Infinity"}.
"""

import json
import math
import os
import struct
import sys
import time

from librtmp import RTMP, RTMPPacket, RTMPError, RTMPTimeoutError
from librtmp.packet import PACKET_SIZE_LARGE, PACKET_SIZE_MEDIUM

T_CHUNK_SIZE, T_ABORT, T_ACK, T_USER_CONTROL, T_WINDOW_ACK, T_PEER_BW = 1, 2, 3, 4, 5, 6
T_AUDIO, T_VIDEO = 8, 9
T_DATA_AMF3, T_SO_AMF3, T_COMMAND_AMF3 = 15, 16, 17
T_DATA_AMF0, T_SO_AMF0, T_COMMAND_AMF0 = 18, 19, 20
T_AGGREGATE = 22

USER_CONTROL_NAMES = {0: "StreamBegin", 1: "StreamEOF", 2: "StreamDry", 3: "SetBufferLength",
                      4: "StreamIsRecorded", 6: "PingRequest", 7: "PingResponse",
                      26: "SWFVerifyRequest", 27: "SWFVerifyResponse", 31: "BufferEmpty", 32: "BufferReady"}
SO_EVENT_NAMES = {1: "use", 2: "release", 3: "requestChange", 4: "change", 5: "success", 6: "sendMessage",
                  7: "status", 8: "clear", 9: "remove", 10: "requestRemove", 11: "useSuccess"}


def emit(obj):
    sys.stdout.write(json.dumps(obj, allow_nan=False) + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------- AMF0 (Adobe AMF0 spec, section 2)

class AmfDecodeError(Exception):
    pass


def _number_to_json(n):
    if math.isnan(n):
        return {"$number": "NaN"}
    if math.isinf(n):
        return {"$number": "Infinity" if n > 0 else "-Infinity"}
    if n == int(n) and abs(n) < 2 ** 53:
        return int(n)
    return n


class Amf0Reader:
    def __init__(self, data, strict):
        self.data = data
        self.pos = 0
        self.strict = strict
        self.refs = []

    def need(self, n):
        if self.pos + n > len(self.data):
            raise AmfDecodeError("truncated at %d" % self.pos)

    def u8(self):
        self.need(1)
        v = self.data[self.pos]
        self.pos += 1
        return v

    def u16(self):
        self.need(2)
        v = struct.unpack_from(">H", self.data, self.pos)[0]
        self.pos += 2
        return v

    def u32(self):
        self.need(4)
        v = struct.unpack_from(">I", self.data, self.pos)[0]
        self.pos += 4
        return v

    def utf8(self, n):
        self.need(n)
        v = self.data[self.pos:self.pos + n].decode("utf-8", "replace")
        self.pos += n
        return v

    def props(self, target):
        while True:
            key = self.utf8(self.u16())
            if key == "":
                self.need(1)
                if self.data[self.pos] == 0x09:
                    self.pos += 1
                    return target
            target[key] = self.value()

    def value(self):
        marker = self.u8()
        if marker == 0x00:
            self.need(8)
            v = struct.unpack_from(">d", self.data, self.pos)[0]
            self.pos += 8
            return _number_to_json(v)
        if marker == 0x01:
            return self.u8() != 0
        if marker == 0x02:
            return self.utf8(self.u16())
        if marker == 0x03:
            obj = {}
            self.refs.append(obj)
            return self.props(obj)
        if marker in (0x05,):
            return None
        if marker == 0x06:
            return {"$undefined": True} if self.strict else None
        if marker == 0x07:
            idx = self.u16()
            return self.refs[idx] if idx < len(self.refs) else {"$ref": idx}
        if marker == 0x08:
            self.u32()  # count hint, not trustworthy
            obj = {}
            self.refs.append(obj)
            self.props(obj)
            return {"$ecma": obj} if self.strict else obj
        if marker == 0x0A:
            n = self.u32()
            arr = []
            self.refs.append(arr)
            for _ in range(n):
                arr.append(self.value())
            return arr
        if marker == 0x0B:
            self.need(10)
            ms = struct.unpack_from(">d", self.data, self.pos)[0]
            self.pos += 10  # 8 bytes time + 2 bytes reserved time zone
            return {"$date": _number_to_json(ms)}
        if marker == 0x0C:
            return self.utf8(self.u32())
        if marker == 0x0F:
            return {"$xml": self.utf8(self.u32())}
        if marker == 0x10:
            name = self.utf8(self.u16())
            obj = {"$class": name}
            self.refs.append(obj)
            return self.props(obj)
        if marker == 0x11:
            rest = self.data[self.pos:]
            self.pos = len(self.data)
            return {"$amf3": rest.hex()}
        raise AmfDecodeError("unknown AMF0 marker 0x%02x at %d" % (marker, self.pos - 1))


def amf0_decode_all(data, strict):
    reader = Amf0Reader(data, strict)
    out = []
    while reader.pos < len(data):
        out.append(reader.value())
    return out


def _utf8_short(s):
    b = s.encode("utf-8")
    return struct.pack(">H", len(b)) + b


def amf0_encode(v):
    if v is None:
        return b"\x05"
    if isinstance(v, bool):
        return b"\x01" + (b"\x01" if v else b"\x00")
    if isinstance(v, (int, float)):
        return b"\x00" + struct.pack(">d", float(v))
    if isinstance(v, str):
        b = v.encode("utf-8")
        if len(b) > 0xFFFF:
            return b"\x0c" + struct.pack(">I", len(b)) + b
        return b"\x02" + struct.pack(">H", len(b)) + b
    if isinstance(v, list):
        return b"\x0a" + struct.pack(">I", len(v)) + b"".join(amf0_encode(x) for x in v)
    if isinstance(v, dict):
        if v.get("$undefined") is True and len(v) == 1:
            return b"\x06"
        if "$date" in v and len(v) == 1:
            return b"\x0b" + struct.pack(">d", float(v["$date"])) + b"\x00\x00"
        if "$number" in v and len(v) == 1:
            return b"\x00" + struct.pack(">d", float(v["$number"]))
        if "$ecma" in v and len(v) == 1:
            body = v["$ecma"]
            return (b"\x08" + struct.pack(">I", len(body)) +
                    b"".join(_utf8_short(k) + amf0_encode(x) for k, x in body.items()) + b"\x00\x00\x09")
        if "$class" in v:
            rest = {k: x for k, x in v.items() if k != "$class"}
            return (b"\x10" + _utf8_short(v["$class"]) +
                    b"".join(_utf8_short(k) + amf0_encode(x) for k, x in rest.items()) + b"\x00\x00\x09")
        return b"\x03" + b"".join(_utf8_short(k) + amf0_encode(x) for k, x in v.items()) + b"\x00\x00\x09"
    raise ValueError("cannot encode %r as AMF0" % (v,))


# ---------------------------------------------------------------- session

class Session:
    def __init__(self, job):
        self.job = job
        self.strict = bool(job.get("strictAmf", False))
        self.verbose = bool(job.get("verbose", False))
        self.replies = job.get("replies") or {}
        # librtmp keeps raw pointers into packets it was handed (connect packet, per-channel header
        # state); the Python wrappers free their C memory when collected, so hold on to every packet.
        self.keep = []
        # librtmp compresses a header against the previous packet on the same chunk stream, which is
        # only valid when the message stream id did not change: track it to pick a full header.
        self.channel_stream = {}
        self.results = {}
        self.next_txn = 2
        self.closed = False
        self.media = {}
        url = job["url"]
        app = job.get("app")
        if app is None:
            app = url.split("://", 1)[-1].split("/", 1)[1] if "/" in url.split("://", 1)[-1] else ""
        self.app = app
        self.tc_url = job.get("tcUrl", url)
        # timeout is whole seconds in librtmp (SO_RCVTIMEO); a timeout does not close the connection.
        self.conn = RTMP(url, app=app, tcurl=self.tc_url, timeout=1)

    # -- sending

    def send(self, ptype, channel, body, stream_id=0, timestamp=0):
        fmt = PACKET_SIZE_MEDIUM if self.channel_stream.get(channel) == stream_id else PACKET_SIZE_LARGE
        self.channel_stream[channel] = stream_id
        pkt = RTMPPacket(type=ptype, format=fmt, channel=channel, timestamp=timestamp, body=body)
        pkt.packet.m_nInfoField2 = stream_id
        self.keep.append(pkt)
        if self.conn.send_packet(pkt, queue=False) < 1:
            raise RTMPError("send failed")

    def send_command(self, name, txn, cmd_obj, args, stream_id=0, channel=3):
        body = amf0_encode(name) + amf0_encode(txn) + amf0_encode(cmd_obj) + b"".join(amf0_encode(a) for a in args)
        self.send(T_COMMAND_AMF0, channel, body, stream_id)

    def connect(self):
        obj = {
            "app": self.app,
            "flashVer": "LNX 11,2,202,235",
            "tcUrl": self.tc_url,
            "fpad": False,
            "capabilities": 239,
            "audioCodecs": 3575,
            "videoCodecs": 252,
            "videoFunction": 1,
            "objectEncoding": 0,
        }
        for k, v in (self.job.get("connect") or {}).items():
            if v is None:
                obj.pop(k, None)
            else:
                obj[k] = v
        args = self.job.get("connectArgs") or []
        body = amf0_encode("connect") + amf0_encode(1) + amf0_encode(obj) + b"".join(amf0_encode(a) for a in args)
        pkt = RTMPPacket(type=T_COMMAND_AMF0, format=PACKET_SIZE_LARGE, channel=3, body=body)
        self.keep.append(pkt)
        self.channel_stream[3] = 0
        # RTMP_Connect = TCP connect + handshake + send this packet instead of librtmp's own connect.
        self.conn.connect(pkt)
        emit({"kind": "connect-sent", "app": self.app, "tcUrl": self.tc_url, "object": obj, "args": args})

    # -- receiving

    def pump(self, until, deadline):
        """Reads and dispatches packets until until() is true, the deadline passes or the peer closes."""
        while not self.closed:
            if until is not None and until():
                return True
            if time.time() >= deadline:
                return until is not None and until()
            try:
                pkt = self.conn.read_packet()
            except RTMPTimeoutError:
                continue
            except RTMPError as e:
                self.closed = True
                emit({"kind": "closed", "reason": str(e)})
                break
            self.dispatch(pkt)
            if not self.conn.connected:
                self.closed = True
                emit({"kind": "closed", "reason": "librtmp reports disconnected"})
        return until is not None and until()

    def dispatch(self, pkt):
        ptype = pkt.type
        body = pkt.body
        sid = pkt.packet.m_nInfoField2
        ts = pkt.timestamp
        if ptype in (T_CHUNK_SIZE, T_ABORT, T_ACK, T_WINDOW_ACK, T_PEER_BW):
            # librtmp must see these to track chunk size and acknowledgements.
            self.conn.handle_packet(pkt)
            if self.verbose:
                value = struct.unpack_from(">I", body, 0)[0] if len(body) >= 4 else None
                emit({"kind": "control", "type": ptype, "value": value, "hex": body.hex()})
            return
        if ptype == T_USER_CONTROL:
            self.conn.handle_packet(pkt)  # answers PingRequest
            event = struct.unpack_from(">H", body, 0)[0] if len(body) >= 2 else -1
            data = [struct.unpack_from(">I", body, o)[0] for o in range(2, len(body) - 3, 4)]
            emit({"kind": "user-control", "event": event, "name": USER_CONTROL_NAMES.get(event, "unknown"), "data": data})
            return
        if ptype in (T_AUDIO, T_VIDEO):
            self.count_media(sid, ptype, body, ts)
            return
        if ptype == T_AGGREGATE:
            self.count_aggregate(sid, body)
            return
        if ptype in (T_COMMAND_AMF0, T_COMMAND_AMF3):
            self.on_command(body[1:] if ptype == T_COMMAND_AMF3 and body[:1] == b"\x00" else body, sid, ptype)
            return
        if ptype in (T_DATA_AMF0, T_DATA_AMF3):
            data = body[1:] if ptype == T_DATA_AMF3 and body[:1] == b"\x00" else body
            try:
                values = amf0_decode_all(data, self.strict)
                emit({"kind": "data", "streamId": sid, "timestamp": ts,
                      "name": values[0] if values else None, "args": values[1:]})
            except AmfDecodeError as e:
                emit({"kind": "data", "streamId": sid, "decodeError": str(e), "hex": body.hex()})
            self.bump(sid, "data")
            return
        if ptype in (T_SO_AMF0, T_SO_AMF3):
            emit(self.decode_so(body[1:] if ptype == T_SO_AMF3 else body))
            return
        emit({"kind": "unknown", "type": ptype, "streamId": sid, "hex": body[:256].hex()})

    def on_command(self, body, sid, ptype):
        try:
            values = amf0_decode_all(body, self.strict)
        except AmfDecodeError as e:
            emit({"kind": "command", "streamId": sid, "decodeError": str(e), "hex": body.hex()})
            return
        name = values[0] if len(values) > 0 else None
        txn = values[1] if len(values) > 1 else None
        obj = values[2] if len(values) > 2 else None
        args = values[3:]
        emit({"kind": "command", "streamId": sid, "type": ptype, "name": name, "txn": txn, "object": obj, "args": args})
        if name in ("_result", "_error") and isinstance(txn, (int, float)):
            self.results[txn] = {"name": name, "object": obj, "args": args}
            return
        if isinstance(name, str) and name in self.replies and isinstance(txn, (int, float)) and txn > 0:
            self.send_command("_result", txn, None, [self.replies[name]], stream_id=sid)
            emit({"kind": "reply-sent", "method": name, "txn": txn, "value": self.replies[name]})

    def bump(self, sid, key, n=1):
        stats = self.media.setdefault(sid, {"audio": 0, "video": 0, "videoKeyframes": 0, "videoConfig": 0, "audioBytes": 0,
                                            "videoBytes": 0, "data": 0, "firstTimestamp": None, "lastTimestamp": None})
        stats[key] += n
        return stats

    def count_media(self, sid, ptype, body, ts):
        kind = "audio" if ptype == T_AUDIO else "video"
        stats = self.bump(sid, kind)
        stats[kind + "Bytes"] += len(body)
        if ptype == T_VIDEO and len(body) >= 2 and (body[0] & 0x0F) == 7 and body[1] == 0:
            stats["videoConfig"] += 1  # AVC sequence header, not a picture
        elif ptype == T_VIDEO and body[:1] and (body[0] >> 4) == 1:
            stats["videoKeyframes"] += 1
        if stats["firstTimestamp"] is None:
            stats["firstTimestamp"] = ts
        stats["lastTimestamp"] = ts

    def count_aggregate(self, sid, body):
        pos = 0
        while pos + 11 <= len(body):
            tag_type = body[pos]
            size = int.from_bytes(body[pos + 1:pos + 4], "big")
            ts = int.from_bytes(body[pos + 4:pos + 7], "big") | (body[pos + 7] << 24)
            data = body[pos + 11:pos + 11 + size]
            if tag_type in (T_AUDIO, T_VIDEO):
                self.count_media(sid, tag_type, data, ts)
            elif tag_type == T_DATA_AMF0:
                self.bump(sid, "data")
            pos += 11 + size + 4

    def decode_so(self, body):
        out = {"kind": "so"}
        try:
            r = Amf0Reader(body, self.strict)
            out["name"] = r.utf8(r.u16())
            out["version"] = r.u32()
            flags = r.u32()
            out["persistent"] = flags == 2
            r.u32()
            events = []
            while r.pos < len(body):
                etype = r.u8()
                elen = r.u32()
                r.need(elen)
                data = body[r.pos:r.pos + elen]
                r.pos += elen
                ev = {"type": etype, "name": SO_EVENT_NAMES.get(etype, "unknown")}
                er = Amf0Reader(data, self.strict)
                try:
                    if etype in (3, 4) and data:
                        ev["key"] = er.utf8(er.u16())
                        ev["value"] = er.value()
                    elif etype in (9, 10) and data:
                        ev["key"] = er.utf8(er.u16())
                    elif etype == 6:
                        ev["values"] = amf0_decode_all(data, self.strict)
                    elif etype == 7 and data:
                        ev["code"] = er.utf8(er.u16())
                        ev["level"] = er.utf8(er.u16())
                    elif data:
                        ev["hex"] = data.hex()
                except AmfDecodeError as e:
                    ev["decodeError"] = str(e)
                    ev["hex"] = data.hex()
                events.append(ev)
            out["events"] = events
        except AmfDecodeError as e:
            out["decodeError"] = str(e)
            out["hex"] = body.hex()
        return out

    # -- flows

    def call(self, method, args, wait, timeout_sec, stream_id=0):
        txn = self.next_txn
        self.next_txn += 1
        self.send_command(method, txn, None, args, stream_id=stream_id)
        emit({"kind": "call-sent", "method": method, "txn": txn, "args": args})
        if not wait:
            return txn, None
        got = self.pump(lambda: txn in self.results, time.time() + timeout_sec)
        if not got:
            emit({"kind": "call-timeout", "method": method, "txn": txn})
            return txn, None
        res = self.results.pop(txn)
        emit({"kind": "call-result", "method": method, "txn": txn, "name": res["name"],
              "ok": res["name"] == "_result", "object": res["object"], "args": res["args"]})
        return txn, res

    def play(self, spec):
        _, res = self.call("createStream", [], True, float(spec.get("timeoutSec", 5)))
        if not res or res["name"] != "_result" or not res["args"] or not isinstance(res["args"][0], (int, float)):
            emit({"kind": "error", "message": "createStream failed"})
            return
        sid = int(res["args"][0])
        args = [spec["stream"], spec.get("start", -2)]
        if "duration" in spec:
            args.append(spec["duration"])
        # Flash sends play on a channel of its own for the stream, then its buffer length.
        self.send_command("play", 0, None, args, stream_id=sid, channel=8)
        buf = int(spec.get("bufferMs", 1000))
        self.send(T_USER_CONTROL, 2, struct.pack(">HII", 3, sid, buf))
        emit({"kind": "play-sent", "streamId": sid, "args": args})
        self.pump(None, time.time() + float(spec.get("durationSec", 3)))
        stats = self.bump(sid, "data", 0)
        emit(dict({"kind": "play-stats", "streamId": sid, "stream": spec["stream"]}, **stats))
        if not self.closed and spec.get("deleteStream", True):
            self.send_command("deleteStream", 0, None, [sid])


def main():
    raw = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] != "-" else sys.stdin.read()
    job = json.loads(raw)
    code = 0
    session = None
    try:
        session = Session(job)
        session.connect()
        connected = session.pump(lambda: 1 in session.results, time.time() + float(job.get("timeoutSec", 10)))
        if not connected:
            reason = "connection closed before a connect result" if session.closed else "no connect result in time"
            emit({"kind": "connect", "ok": False, "name": None, "reason": reason})
            code = 3
        else:
            res = session.results.pop(1)
            info = res["args"][0] if res["args"] else None
            emit({"kind": "connect", "ok": res["name"] == "_result", "name": res["name"],
                  "properties": res["object"], "info": info, "args": res["args"]})
            if res["name"] == "_result":
                for c in job.get("calls") or []:
                    if session.closed:
                        break
                    session.call(c["method"], c.get("args") or [], c.get("wait", True), float(c.get("timeoutSec", 5)))
                if job.get("play") and not session.closed:
                    session.play(job["play"])
                listen = float(job.get("listenSec", 0))
                if listen > 0 and not session.closed:
                    session.pump(None, time.time() + listen)
    except (RTMPError, OSError, ValueError, KeyError) as e:
        emit({"kind": "error", "message": "%s: %s" % (type(e).__name__, e)})
        code = 2
    emit({"kind": "done", "code": code, "closedByPeer": bool(session and session.closed)})
    if session is not None:
        try:
            session.conn.close()
        except Exception:  # noqa: BLE001 - closing a dead session must not change the outcome
            pass
    sys.stdout.flush()
    # Skip interpreter teardown: cffi finalizers would free packets librtmp may still point at.
    os._exit(code)


if __name__ == "__main__":
    main()
