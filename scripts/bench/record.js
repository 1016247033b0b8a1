// @ts-check
'use strict';
/**
 * Recording (issue 4): P simultaneous recordings of live streams. P publishers (ssas's RtmpClient in an
 * rtmp-worker process) send the tags of the 0.6 Mbit/s H.264/AAC FLV clip at real time, each to its own
 * stream name with publish(name, "record"), starting spread over one second, and unpublish after the last
 * tag. ssas records into its app's streams/_definst_/; nginx-rtmp (`record all;`) into its record_path. Then
 * every recorded FLV is read back with ssas's FlvReader: its audio and video frame counts must equal what was
 * sent (no frame dropped). Codec configuration tags (AAC/AVC sequence headers) are counted apart: a server
 * may write them again where a recording starts (nginx-rtmp does). Figures: server CPU and file bytes per
 * second over the recording.
 */
const path = require('node:path');
const fs = require('node:fs');
const chalk = require('chalk');
const c = require('./common');

/**
 * @typedef {object} RecordOptions
 * @property {string[]} servers
 * @property {number} publishers
 * @property {number} seconds  seconds of the clip each publisher sends (at most the clip's 20)
 */

/** @param {RecordOptions} o */
async function record(o) {
  const clip = c.ensureClip('0.6M');
  const seconds = Math.min(o.seconds, clip.seconds);
  console.log(chalk.bold.cyan(`\nRecording: ${o.publishers} publishers, each publish(name, "record") of ${seconds} s of the ${(clip.bitsPerSec / 1e6).toFixed(2)} Mbit/s FLV at real time`));
  console.log(chalk.dim(`  ${c.machineLine()}`));
  console.log(chalk.dim('  publishers: ssas RtmpClient in one process, starts spread over 1 s; recorded FLVs read back with ssas FlvReader (audio/video tag counts vs sent)'));
  /** @type {any[]} */
  const results = [];
  for (const kind of o.servers.filter((s) => s === 'ssas' || s === 'nginx')) {
    const missing = c.peerMissing(kind);
    if (missing) {
      console.log(chalk.yellow(`  skipping ${kind}: ${missing}`));
      continue;
    }
    process.stderr.write(chalk.dim(`  ${kind} ...`));
    const work = c.tempDir('record');
    const recDir = path.join(work, 'nginx-rec');
    fs.mkdirSync(recDir, { recursive: true });
    const apps = c.writeApps({ rec: {} }, path.join(work, 'apps'));
    const server = await c.startServer(kind, {
      apps,
      applications: `    application rec { live on; record all; record_path ${recDir}; }`,
    });
    const pub = new c.RtmpWorker();
    const reader = new c.RtmpWorker();
    try {
      const names = Array.from({ length: o.publishers }, (_, i) => `rec${i}`);
      const p = await pub.req('publishFlv', { url: `rtmp://127.0.0.1:${server.port}/rec`, streams: names, file: clip.file, mode: 'record', loop: false, spreadMs: 1000, limitMs: seconds * 1000 });
      const cpu0 = c.readCpu(server.pid);
      const pc0 = c.readCpu(pub.pid);
      const t0 = performance.now();
      let counts;
      for (;;) {
        await c.sleep(250);
        counts = await pub.req('flvCounts');
        if (counts.done >= names.length || performance.now() - t0 > seconds * 1000 + 30000) break;
      }
      const cpu1 = c.readCpu(server.pid);
      const pc1 = c.readCpu(pub.pid);
      const sec = (performance.now() - t0) / 1000;
      const rss = c.readRss(server.pid);
      // Unpublish is sent 200 ms after the last tag; give the server time to close its files.
      await c.sleep(2000);
      const dir = kind === 'ssas' ? path.join(apps, 'rec', 'streams', '_definst_') : recDir;
      const files = names.map((n) => path.join(dir, `${n}.flv`));
      const back = (await reader.req('readTagCounts', { files })).files;
      let bytes = 0;
      let complete = 0;
      let missingAudio = 0;
      let missingVideo = 0;
      let extraConfig = 0;
      const problems = [];
      for (let i = 0; i < names.length; i++) {
        const sent = counts.sent[names[i]];
        const got = back[files[i]];
        bytes += got.bytes;
        if (got.audio === sent.audio && got.video === sent.video && got.config >= 1) complete++;
        else problems.push(`${names[i]}: sent ${sent.audio}a/${sent.video}v/${sent.config}c, file ${got.audio}a/${got.video}v/${got.config}c${got.error ? ` (${got.error})` : ''}`);
        missingAudio += Math.max(0, sent.audio - got.audio);
        missingVideo += Math.max(0, sent.video - got.video);
        extraConfig += got.config - sent.config;
      }
      const sentTags = Object.values(counts.sent).reduce((a, s) => a + s.audio + s.video + s.config, 0);
      const r = {
        server: kind,
        label: server.label,
        publishers: names.length,
        seconds: sec,
        tagsPerStream: p.tags,
        sentTags,
        cpuPct: c.cpuPct(cpu0, cpu1, sec),
        userPct: (100 * (cpu1.user - cpu0.user)) / sec,
        sysPct: (100 * (cpu1.sys - cpu0.sys)) / sec,
        mbPerSec: bytes / 1e6 / sec,
        bytes,
        complete,
        missingAudio,
        missingVideo,
        extraConfig,
        problems: problems.slice(0, 5),
        rssMiB: rss.rssMiB,
        publisherCpuPct: c.cpuPct(pc0, pc1, sec),
      };
      results.push(r);
      process.stderr.write(chalk.dim(` ${c.fmt(r.cpuPct)} % CPU, ${c.fmt(r.mbPerSec, 2)} MB/s, ${complete}/${names.length} files complete\n`));
    } finally {
      await pub.stop();
      await reader.stop();
      await server.stop();
      fs.rmSync(server.dir, { recursive: true, force: true });
      fs.rmSync(work, { recursive: true, force: true });
    }
  }
  c.printTable(
    ['server', 'recordings', 'files with every frame', 'frames missing (a/v)', 'config tags +/-', 'CPU %', 'user %', 'sys %', 'written MB/s', 'CPU % per MB/s', 'RSS MiB', 'publisher CPU %'],
    results.map((r) => [
      r.label,
      String(r.publishers),
      { text: `${r.complete}/${r.publishers}`, color: r.complete === r.publishers ? chalk.green : chalk.red },
      `${r.missingAudio}/${r.missingVideo}`,
      (r.extraConfig > 0 ? '+' : '') + String(r.extraConfig),
      c.fmt(r.cpuPct),
      c.fmt(r.userPct),
      c.fmt(r.sysPct),
      c.fmt(r.mbPerSec, 2),
      c.fmt(r.cpuPct / r.mbPerSec, 2),
      c.fmt(r.rssMiB, 0),
      c.fmt(r.publisherCpuPct),
    ]),
  );
  const s = results.find((r) => r.server === 'ssas');
  const g = results.find((r) => r.server === 'nginx');
  if (s && g) c.printTable(['', 'ssas/nginx-rtmp'], [['CPU', c.ratioCell(s.cpuPct, g.cpuPct)], ['written MB/s', c.ratioCell(s.mbPerSec, g.mbPerSec, { higherIsBetter: true })]]);
  for (const r of results) for (const pb of r.problems) console.log(chalk.yellow(`  ${r.label}: ${pb}`));
  if (s) {
    const ok = s.complete === s.publishers;
    console.log((ok ? chalk.green('goal met') : chalk.red('goal missed')) + chalk.dim(` (no dropped frames in ${s.publishers} simultaneous recordings): ${s.complete}/${s.publishers} files complete`));
  }
  return { bench: 'record', clipMbit: clip.bitsPerSec / 1e6, seconds, results };
}

module.exports = { record };
