// @ts-check
'use strict';
/**
 * Generates a main.asc written the way FMS 2/3 applications were (ECMAScript 3 only): global functions,
 * constructor functions with prototype methods, object literal tables, for/for-in/while loops, switch,
 * try/catch, string building, Client.prototype methods, and an application.onAppStart that builds its
 * lookup tables. Used by the bridge benchmark to time instance start on a script of realistic size.
 */

/**
 * One "module" of a legacy app: a table, a constructor with methods, helpers and client methods.
 * @param {number} i
 * @returns {string[]}
 */
function block(i) {
  const C = `Room${i}`;
  return [
    `// ---- module ${i}: rooms, users and scores (FMS 2 style) ----`,
    `var settings${i} = {`,
    `  maxUsers: ${20 + (i % 7)},`,
    `  title: "Room number ${i}",`,
    `  colors: ["red", "green", "blue", "white", "black"],`,
    `  limits: { chat: ${200 + i}, flood: ${3 + (i % 4)}, idle: ${600 + i * 10} },`,
    `  enabled: ${i % 3 === 0 ? 'false' : 'true'}`,
    `};`,
    `var table${i} = [];`,
    `function ${C}(name, owner) {`,
    `  this.name = name;`,
    `  this.owner = owner;`,
    `  this.users = {};`,
    `  this.count = 0;`,
    `  this.history = [];`,
    `}`,
    `${C}.prototype.addUser = function (id, nick) {`,
    `  if (this.count >= settings${i}.maxUsers) return false;`,
    `  if (this.users[id] != null) return false;`,
    `  this.users[id] = { nick: nick, joined: new Date().getTime(), score: 0 };`,
    `  this.count++;`,
    `  return true;`,
    `};`,
    `${C}.prototype.removeUser = function (id) {`,
    `  if (this.users[id] == null) return false;`,
    `  delete this.users[id];`,
    `  this.count--;`,
    `  return true;`,
    `};`,
    `${C}.prototype.say = function (id, text) {`,
    `  var u = this.users[id], msg;`,
    `  if (!u) return null;`,
    `  text = String(text);`,
    `  if (text.length > settings${i}.limits.chat) text = text.substr(0, settings${i}.limits.chat);`,
    `  msg = u.nick + ": " + text;`,
    `  this.history.push(msg);`,
    `  while (this.history.length > 20) this.history.shift();`,
    `  return msg;`,
    `};`,
    `${C}.prototype.names = function () {`,
    `  var out = [], k;`,
    `  for (k in this.users) out.push(this.users[k].nick);`,
    `  out.sort();`,
    `  return out.join(",");`,
    `};`,
    `function score${i}(values) {`,
    `  var total = 0, i, v;`,
    `  for (i = 0; i < values.length; i++) {`,
    `    v = values[i];`,
    `    switch (typeof v) {`,
    `      case "number": total += v; break;`,
    `      case "string": total += parseInt(v, 10) || 0; break;`,
    `      default: total += 1;`,
    `    }`,
    `  }`,
    `  return total;`,
    `}`,
    `function init${i}() {`,
    `  var n;`,
    `  for (n = 0; n < 10; n++) {`,
    `    table${i}[n] = new ${C}("room" + n, "admin");`,
    `    table${i}[n].addUser("u" + n, "user" + n);`,
    `  }`,
    `  try {`,
    `    settings${i}.checksum = score${i}([1, "2", 3, null, "x"]);`,
    `  } catch (e) {`,
    `    trace("init${i}: " + e);`,
    `  }`,
    `  return table${i}.length;`,
    `}`,
    `Client.prototype.join${i} = function (room, nick) {`,
    `  var r = table${i}[room];`,
    `  return r ? r.addUser(this.id, nick) : false;`,
    `};`,
    `Client.prototype.say${i} = function (room, text) {`,
    `  var r = table${i}[room], msg = r ? r.say(this.id, text) : null;`,
    `  if (msg != null) application.broadcastMsg("onChat${i}", msg);`,
    `  return msg != null;`,
    `};`,
    '',
  ];
}

/**
 * A main.asc of at least `lines` lines (blocks of ~80 lines plus the application handlers).
 * @param {number} lines
 */
function legacyMainAsc(lines = 2000) {
  /** @type {string[]} */
  const out = [
    '/*',
    ' * A generated FMS-era application (ECMAScript 3): lobby, rooms, chat, scores.',
    ' */',
    'var started = 0;',
    'var modules = 0;',
    '',
  ];
  const footer = ['application.onAppStart = function () {', '  var total = 0;'];
  let i = 0;
  // Room for the handlers at the end: 15 lines, plus one init call per module in onAppStart.
  while (out.length + block(i).length + 1 + footer.length + i + 15 <= lines) {
    out.push(...block(i));
    i++;
  }
  for (let k = 0; k < i; k++) footer.push(`  total += init${k}();`);
  footer.push(
    '  modules = ' + i + ';',
    '  started = new Date().getTime();',
    '  trace("legacy app started with " + total + " rooms");',
    '};',
    'application.onConnect = function (client, nick) {',
    '  client.nick = nick || ("guest" + client.id);',
    '  this.acceptConnection(client);',
    '  return true;',
    '};',
    'application.onDisconnect = function (client) {',
    '  trace(client.nick + " left");',
    '};',
    'Client.prototype.echo = function (x) { return x; };',
  );
  out.push(...footer);
  while (out.length < lines) out.push('');
  return out.join('\n') + '\n';
}

module.exports = { legacyMainAsc };
