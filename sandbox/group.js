// @ts-check
/**
 * Script-side GroupSpecifier and NetGroup (FMS 4 / 4.5 server side). A GroupSpecifier only holds the
 * settings; its strings are made by the host (src/rtmfp/groupspec.ts), byte for byte as Flash Player's
 * GroupSpecifier.toString(). A NetGroup is a handle on the host's group membership of a NetConnection
 * (src/net/rtmfp-group.ts): neighbours, estimates, posting and routed messages, status events.
 */
function ssasGroup(S) {
  var g = S.global;

  function hidden(obj, name, value) {
    Object.defineProperty(obj, name, { value: value, enumerable: false, writable: true, configurable: true });
  }

  var FLAGS = ['multicastEnabled', 'postingEnabled', 'routingEnabled', 'objectReplicationEnabled', 'serverChannelEnabled', 'peerToPeerDisabled', 'ipMulticastMemberUpdatesEnabled'];

  /** @constructor @this {any} */
  function GroupSpecifier(name) {
    if (!(this instanceof GroupSpecifier)) return new GroupSpecifier(name);
    if (name === null || name === undefined || String(name) === '') throw new Error('ArgumentError: GroupSpecifier needs a group name.');
    var state = {
      name: String(name),
      unique: null,
      version: 2,
      flags: {},
      publish: null,
      posting: null,
      ipMulticast: [],
      bootstrap: [],
    };
    hidden(this, '__ssasSpec', state);
    var self = this;
    FLAGS.forEach(function (f) {
      state.flags[f] = false;
      Object.defineProperty(self, f, {
        enumerable: true,
        get: function () {
          return state.flags[f];
        },
        set: function (v) {
          state.flags[f] = !!v;
        },
      });
    });
    Object.defineProperty(this, 'minGroupspecVersion', {
      enumerable: true,
      get: function () {
        return state.version;
      },
      set: function (v) {
        var n = Math.floor(Number(v));
        state.version = n >= 1 ? Math.min(n, 2) : 1;
      },
    });
  }

  function encode(spec, form) {
    var r = S.hostCall({ t: 'groupspec', spec: S.toHost(spec), form: form });
    if (r && typeof r === 'object' && typeof r.error === 'string') throw new Error(r.error);
    return String(r);
  }

  function specOf(gs) {
    return gs.__ssasSpec;
  }

  var GSP = GroupSpecifier.prototype;
  GSP.addBootstrapPeer = function (peerID) {
    var id = String(peerID);
    if (!/^[0-9a-fA-F]{64}$/.test(id)) throw new Error('ArgumentError: a peer ID is 64 hexadecimal digits.');
    specOf(this).bootstrap.push(id.toLowerCase());
  };
  GSP.addIPMulticastAddress = function (address, port, source) {
    var a = encode({ address: address, port: port === undefined ? null : port, source: source === undefined ? null : source }, 'checkAddress');
    specOf(this).ipMulticast.push(JSON.parse(a));
  };
  GSP.setPublishPassword = function (password, salt) {
    specOf(this).publish = password === null || password === undefined ? null : { password: String(password), salt: salt === null || salt === undefined ? null : String(salt) };
  };
  GSP.setPostingPassword = function (password, salt) {
    specOf(this).posting = password === null || password === undefined ? null : { password: String(password), salt: salt === null || salt === undefined ? null : String(salt) };
  };
  GSP.makeUnique = function () {
    specOf(this).unique = encode({}, 'unique');
  };
  GSP.toString = function () {
    return encode(specOf(this), 'with');
  };
  GSP.groupspecWithAuthorizations = function () {
    return encode(specOf(this), 'with');
  };
  GSP.groupspecWithoutAuthorizations = function () {
    return encode(specOf(this), 'without');
  };
  GSP.authorizations = function () {
    return encode(specOf(this), 'authorizations');
  };
  Object.keys(GSP).forEach(function (k) {
    Object.defineProperty(GSP, k, { enumerable: false });
  });
  GroupSpecifier.maxSupportedGroupspecVersion = 2;
  GroupSpecifier.encodePostingAuthorization = function (password) {
    return encode({ password: String(password) }, 'postingAuthorization');
  };
  GroupSpecifier.encodePublishAuthorization = function (password) {
    return encode({ password: String(password) }, 'publishAuthorization');
  };
  GroupSpecifier.encodeIPMulticastAddressSpec = function (address, port, source) {
    return encode({ address: address, port: port === undefined ? null : port, source: source === undefined ? null : source }, 'addressSpec');
  };
  GroupSpecifier.encodeBootstrapPeerIDSpec = function (peerID) {
    return encode({ peerID: String(peerID) }, 'bootstrapSpec');
  };
  Object.defineProperty(g, 'GroupSpecifier', { value: GroupSpecifier, writable: true, enumerable: false, configurable: true });

  // --- NetGroup --------------------------------------------------------------------------------------------

  /** @type {Map<number, any>} */
  var groups = new Map();
  var nextGroup = 1;

  /** @constructor @this {any} */
  function NetGroup(connection, groupspec) {
    if (!(this instanceof NetGroup)) return new NetGroup(connection, groupspec);
    var id = nextGroup++;
    var ncId = S.ncId(connection);
    var state = { dead: ncId === undefined, neighborCount: 0, estimatedMemberCount: 0, coverage: ['0', 'f'], receiveMode: 'exact', info: {} };
    hidden(this, '__ssasGroupId', id);
    hidden(this, '__ssasState', state);
    Object.defineProperty(this, 'neighborCount', {
      enumerable: true,
      get: function () {
        return state.dead ? 0 : S.hostCall({ t: 'ngState', id: id }).neighborCount;
      },
    });
    Object.defineProperty(this, 'estimatedMemberCount', {
      enumerable: true,
      get: function () {
        return state.dead ? 0 : S.hostCall({ t: 'ngState', id: id }).estimatedMemberCount;
      },
    });
    Object.defineProperty(this, 'localCoverageFrom', {
      enumerable: true,
      get: function () {
        return state.dead ? '' : S.hostCall({ t: 'ngState', id: id }).localCoverageFrom;
      },
    });
    Object.defineProperty(this, 'localCoverageTo', {
      enumerable: true,
      get: function () {
        return state.dead ? '' : S.hostCall({ t: 'ngState', id: id }).localCoverageTo;
      },
    });
    Object.defineProperty(this, 'receiveMode', {
      enumerable: true,
      get: function () {
        return state.receiveMode;
      },
      set: function (v) {
        if (v === 'exact' || v === 'nearest') {
          state.receiveMode = v;
          S.emit({ op: 'ngReceiveMode', id: id, mode: v });
        }
      },
    });
    Object.defineProperty(this, 'info', {
      enumerable: true,
      get: function () {
        return state.dead ? {} : S.fromHost(S.hostCall({ t: 'ngState', id: id }).info);
      },
    });
    groups.set(id, this);
    S.emit({ op: 'ngCreate', id: id, nc: ncId === undefined ? -1 : ncId, groupspec: groupspec === undefined || groupspec === null ? '' : String(groupspec) });
  }

  var NGP = NetGroup.prototype;
  NGP.post = function (message) {
    if (this.__ssasState.dead) return null;
    var r = S.hostCall({ t: 'ngPost', id: this.__ssasGroupId, message: S.toHost(message) });
    return r === null || r === undefined ? null : String(r);
  };
  function sendTo(self, how, target, message) {
    if (self.__ssasState.dead) return 'error';
    return String(S.hostCall({ t: 'ngSendTo', id: self.__ssasGroupId, how: how, target: target === undefined ? null : String(target), message: S.toHost(message) }));
  }
  NGP.sendToNearest = function (message, groupAddress) {
    return sendTo(this, 'nearest', groupAddress, message);
  };
  NGP.sendToNeighbor = function (message, sendMode) {
    return sendTo(this, 'neighbor', sendMode, message);
  };
  NGP.sendToAllNeighbors = function (message) {
    return sendTo(this, 'all', null, message);
  };
  NGP.convertPeerIDToGroupAddress = function (peerID) {
    return String(S.hostCall({ t: 'ngGroupAddress', peerID: String(peerID) }));
  };
  NGP.addNeighbor = function (peerID) {
    if (this.__ssasState.dead) return false;
    return S.hostCall({ t: 'ngAddNeighbor', id: this.__ssasGroupId, peerID: String(peerID) }) === true;
  };
  NGP.addMemberHint = function (peerID) {
    return this.addNeighbor(peerID);
  };
  NGP.close = function () {
    if (this.__ssasState.dead) return;
    this.__ssasState.dead = true;
    S.emit({ op: 'ngClose', id: this.__ssasGroupId });
  };
  Object.keys(NGP).forEach(function (k) {
    Object.defineProperty(NGP, k, { enumerable: false });
  });
  Object.defineProperty(g, 'NetGroup', { value: NetGroup, writable: true, enumerable: false, configurable: true });

  // NetGroupSendMode / NetGroupSendResult / NetGroupReceiveMode constants (AS3 names, FMS 4.5).
  Object.defineProperty(g, 'NetGroupSendMode', {
    value: { NEXT_DECREASING: 'nextDecreasing', NEXT_INCREASING: 'nextIncreasing' },
    writable: true,
    enumerable: false,
    configurable: true,
  });
  Object.defineProperty(g, 'NetGroupSendResult', {
    value: { ERROR: 'error', NO_ROUTE: 'no route', SENT: 'sent' },
    writable: true,
    enumerable: false,
    configurable: true,
  });
  Object.defineProperty(g, 'NetGroupReceiveMode', { value: { EXACT: 'exact', NEAREST: 'nearest' }, writable: true, enumerable: false, configurable: true });

  S.handlers.ngStatus = function (ev) {
    var ng = groups.get(ev.id);
    if (!ng) return;
    var inf = S.fromHost(ev.info);
    if (inf && (inf.code === 'NetGroup.Connect.Failed' || inf.code === 'NetGroup.Connect.Rejected')) ng.__ssasState.dead = true;
    if (typeof ng.onStatus === 'function') S.safeCall(ng, ng.onStatus, [inf]);
    else S.statusFallback(inf);
  };
}
