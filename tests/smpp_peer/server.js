#!/usr/bin/env node
// An independent SMSC for Mercator's SMPP channel tests and benchmark: the npm `smpp` package as
// a server (smpp.createServer), decoding every PDU with its own code, not Mercator's.
//
//   node server.js --system-id ID --password PW [--record FILE] [--quiet] [--delay-ms N]
//                  [--throttle N] [--host 127.0.0.1] [--port 0]
//
// Listens (port 0: a free one) and writes {"event":"listening","port":N} as the first record.
// Records are JSON lines appended to --record FILE (default: stdout), one per event; each
// record of a connection carries `session`, the connection's number (1, 2, ... in accept order):
//   bind            {system_id, password_ok, system_type, status}
//   submit          {seq, status, message_id, source_addr, destination_addr, data_coding,
//                    esm_class, registered_delivery, udh (hex or ""), text (decoded by smpp)}
//                   status 0 is accepted (message_id set); others were refused (throttled)
//   ignored         {seq}: a submit that arrived on a connection being dropped (never answered)
//   enquire_link    the client's enquire_link (answered)
//   enquire_link_resp  the client's answer to ours
//   deliver_sm_resp {seq, status}: the client's answer to a receipt or MO we sent
//   unbind          the client unbound (answered); close: a connection closed
//   stats           {accepted, refused, ignored, binds, by_session: {session: accepted}}: on the
//                   "stats" command and at exit
// With --quiet only bind, stats and close are recorded (for the benchmark).
//
// Commands, one JSON object a line on stdin:
//   {"cmd":"throttle","n":N}       answer the next N submits with ESME_RTHROTTLED (0x58)
//   {"cmd":"delay","ms":N}         answer submits N ms late
//   {"cmd":"receipt","message_id":ID,"stat":"DELIVRD","err":"000","tlv":true,"session":S}
//                                  a delivery receipt for ID (text, and TLVs if tlv is true) on
//                                  session S, or on the bound sessions in turn
//   {"cmd":"mo","from":"13812341234","text":"T","ucs2":false,"session":S}
//                                  a mobile-originated message (session as for receipt)
//   {"cmd":"enquire_link"}         an enquire_link to every bound client
//   {"cmd":"drop_after","n":N,"session":S}
//                                  answer N more submits, then close the connection (the N
//                                  answers are delivered first; submits still arriving on it
//                                  are ignored, not answered);
//                                  only session S if given, else every bound one
//   {"cmd":"drop","session":S}     drop session S (or every connection) now
//   {"cmd":"hold_binds","n":N}     leave the next N bind_transceiver unanswered (the connection
//                                  stays open; recorded as bind_held)
//   {"cmd":"stats"}                write a stats record
'use strict';

const fs = require('fs');
const readline = require('readline');
const smpp = require('smpp');

function parseArgs(argv) {
  const out = {host: '127.0.0.1', port: 0, delayMs: 0, throttle: 0, quiet: false};
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--system-id') out.systemId = next();
    else if (a === '--password') out.password = next();
    else if (a === '--record') out.record = next();
    else if (a === '--host') out.host = next();
    else if (a === '--port') out.port = Number(next());
    else if (a === '--delay-ms') out.delayMs = Number(next());
    else if (a === '--throttle') out.throttle = Number(next());
    else if (a === '--quiet') out.quiet = true;
    else {
      process.stderr.write(`unknown argument ${a}\n`);
      process.exit(2);
    }
  }
  if (!out.systemId || out.password === undefined) {
    process.stderr.write('--system-id and --password are required\n');
    process.exit(2);
  }
  return out;
}

const args = parseArgs(process.argv);
const recordFd = args.record ? fs.openSync(args.record, 'a') : 1;
function record(event, fields = {}) {
  fs.writeSync(recordFd, JSON.stringify({event, at: Date.now(), ...fields}) + '\n');
}

const state = {
  throttle: args.throttle,
  holdBinds: 0,
  delayMs: args.delayMs,
  nextId: 1,
  accepted: 0,
  refused: 0,
  ignored: 0,
  binds: 0,
  sessions: 0,
  byId: new Map(),  // session number -> accepted submits
  turn: 0,  // the next bound session for a receipt or MO without a session
  bound: new Set(),
  // message id -> {session, source_addr, destination_addr}
  messages: new Map(),
};

function stats() {
  record('stats', {
    accepted: state.accepted,
    refused: state.refused,
    ignored: state.ignored,
    binds: state.binds,
    by_session: Object.fromEntries(state.byId),
  });
}

function onSubmit(session, pdu) {
  if (session.dropping) {
    state.ignored++;
    if (!args.quiet) record('ignored', {session: session.id, seq: pdu.sequence_number});
    return;
  }
  const answer = () => {
    if (session.dropping || session.closed) {
      state.ignored++;
      if (!args.quiet) record('ignored', {session: session.id, seq: pdu.sequence_number});
      return;
    }
    let status = 0;
    let messageId = '';
    if (state.throttle > 0) {
      state.throttle--;
      status = smpp.ESME_RTHROTTLED;
      state.refused++;
    } else {
      messageId = 'smsc-' + (state.nextId++).toString(16).padStart(8, '0');
      state.accepted++;
      state.byId.set(session.id, (state.byId.get(session.id) || 0) + 1);
      state.messages.set(messageId, {
        session,
        source_addr: pdu.source_addr,
        destination_addr: pdu.destination_addr,
      });
    }
    if (!args.quiet) {
      const sm = pdu.short_message || {};
      record('submit', {
        session: session.id,
        seq: pdu.sequence_number,
        status,
        message_id: messageId,
        source_addr: pdu.source_addr,
        destination_addr: pdu.destination_addr,
        data_coding: pdu.data_coding,
        esm_class: pdu.esm_class,
        registered_delivery: pdu.registered_delivery,
        udh: sm.udh && sm.udh.length ? Buffer.concat(sm.udh).toString('hex') : '',
        text: typeof sm.message === 'string' ? sm.message : String(sm.message || ''),
      });
    }
    session.send(pdu.response({command_status: status, message_id: messageId}));
    if (status === 0 && session.dropAfter !== undefined && --session.dropAfter <= 0) {
      // end(), not destroy(): the answers already given reach the client before the FIN
      // (destroy() may discard a write still queued, and the client would never learn that
      // the last part was accepted: SMPP's at-least-once case, not what this command tests).
      session.dropping = true;
      session.close();
    }
  };
  if (state.delayMs > 0) setTimeout(answer, state.delayMs);
  else answer();
}

const server = smpp.createServer((session) => {
  session.id = ++state.sessions;
  session.on('bind_transceiver', (pdu) => {
    if (state.holdBinds > 0) {
      state.holdBinds--;
      record('bind_held', {session: session.id, seq: pdu.sequence_number});
      return;
    }
    const ok = pdu.system_id === args.systemId && pdu.password === args.password;
    const status = ok ? 0 : smpp.ESME_RBINDFAIL;
    state.binds += ok ? 1 : 0;
    record('bind', {
      session: session.id,
      system_id: pdu.system_id,
      password_ok: pdu.password === args.password,
      system_type: pdu.system_type,
      status,
    });
    session.send(pdu.response({command_status: status, system_id: 'npm-smpp-peer'}));
    if (ok) state.bound.add(session);
    else session.close();
  });
  session.on('submit_sm', (pdu) => onSubmit(session, pdu));
  session.on('enquire_link', (pdu) => {
    if (!args.quiet) record('enquire_link', {session: session.id, seq: pdu.sequence_number});
    session.send(pdu.response());
  });
  session.on('enquire_link_resp', (pdu) => {
    if (!args.quiet) record('enquire_link_resp', {session: session.id, seq: pdu.sequence_number});
  });
  session.on('deliver_sm_resp', (pdu) => {
    if (!args.quiet) {
      record('deliver_sm_resp',
             {session: session.id, seq: pdu.sequence_number, status: pdu.command_status});
    }
  });
  session.on('unbind', (pdu) => {
    record('unbind', {session: session.id, seq: pdu.sequence_number});
    session.send(pdu.response());
    state.bound.delete(session);
  });
  session.on('error', () => {});
  session.on('close', () => {
    session.closed = true;
    state.bound.delete(session);
    record('close', {session: session.id});
  });
});

// The bound session numbered `id`, or (id undefined) the bound sessions in turn.
function pickBound(id) {
  const live = [...state.bound].filter((s) => !s.closed);
  if (id !== undefined) return live.find((s) => s.id === id) || null;
  if (live.length === 0) return null;
  return live[state.turn++ % live.length];
}

// The bound sessions `cmd` names (cmd.session), or every bound one.
function targets(cmd) {
  return [...state.bound].filter((s) => cmd.session === undefined || s.id === cmd.session);
}

// The SMPP 3.4 receipt text (appendix B), and the receipted_message_id / message_state TLVs.
function sendReceipt(cmd) {
  const msg = state.messages.get(cmd.message_id);
  const session = pickBound(cmd.session);
  if (!session) {
    record('error', {error: 'no bound session for a receipt'});
    return;
  }
  const stat = cmd.stat || 'DELIVRD';
  const err = cmd.err || '000';
  const states = {ENROUTE: 1, DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6,
                  UNKNOWN: 7, REJECTD: 8};
  const text = `id:${cmd.message_id} sub:001 dlvr:${stat === 'DELIVRD' ? '001' : '000'} ` +
      `submit date:2611231000 done date:2611231001 stat:${stat} err:${err} text:`;
  const fields = {
    source_addr: msg ? msg.destination_addr : '',
    destination_addr: msg ? msg.source_addr : '',
    esm_class: smpp.ESM_CLASS.MC_DELIVERY_RECEIPT,
    short_message: cmd.no_text ? '' : text,
  };
  if (cmd.tlv) {
    fields.receipted_message_id = cmd.message_id;
    fields.message_state = states[stat] || 7;
  }
  session.deliver_sm(fields);
}

function sendMo(cmd) {
  const session = pickBound(cmd.session);
  if (!session) {
    record('error', {error: 'no bound session for an MO'});
    return;
  }
  const fields = {source_addr: cmd.from, destination_addr: cmd.to || '10690000',
                  short_message: cmd.text};
  if (cmd.ucs2) fields.data_coding = 8;
  session.deliver_sm(fields);
}

const rl = readline.createInterface({input: process.stdin});
rl.on('line', (line) => {
  if (!line.trim()) return;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (e) {
    record('error', {error: 'bad command: ' + line});
    return;
  }
  switch (cmd.cmd) {
    case 'throttle': state.throttle = cmd.n; break;
    case 'delay': state.delayMs = cmd.ms; break;
    case 'hold_binds': state.holdBinds = cmd.n; break;
    case 'receipt': sendReceipt(cmd); break;
    case 'mo': sendMo(cmd); break;
    case 'enquire_link':
      for (const s of state.bound) s.enquire_link();
      break;
    case 'drop_after':
      for (const s of targets(cmd)) s.dropAfter = cmd.n;
      break;
    case 'drop':
      for (const s of targets(cmd)) {
        s.dropping = true;
        s.destroy();
      }
      break;
    case 'stats': stats(); break;
    default: record('error', {error: 'unknown command ' + cmd.cmd});
  }
  record('ack', {cmd: cmd.cmd});
});
rl.on('close', () => {
  // stdin closed: the test is done.
  stats();
  process.exit(0);
});
process.on('SIGTERM', () => {
  stats();
  process.exit(0);
});

server.listen(args.port, args.host, () => {
  record('listening', {port: server.address().port});
});
