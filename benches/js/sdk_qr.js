// Times the official bakong-khqr SDK on the same payloads as benches/qr.rs, for comparison.
// Run (not part of CI; needs the npm registry once):
//   d=$(mktemp -d) && (cd "$d" && npm install bakong-khqr@1.0.20) && NODE_PATH="$d/node_modules" node benches/js/sdk_qr.js
// Prints nanoseconds per call for decode, verify and decode + verify (median of 5 rounds).
'use strict';
const { BakongKHQR } = require('bakong-khqr');

const payloads = {
  g09: '00020101021230370011coffee@devb01061234560208Dev Bank520458125303840540510.255802KH5912Coffee Klang6010Phnom Penh62630105#00010211855875758570310Klang BKK10709Counter 20808Latte x2993400131735689600000011317356905000006304C13F',
  x01_khmer: '00020101021215311234567812345678ABCDEFGHIJKLMNO29460015john_smith@devb0111855122334550208Dev Bank52041234530311654031005802KH5910John Smith6010PHNOM PENH62670106#123450211855122334550311Coffee Shop0709Cashier_10810Buy coffee64290002km0108ចន ស្មីន0207ភ្នំពេញ993400131745915488053011341013543270006304FD7B',
};
// verify() checks expiry against Date.now(); pin it as the vectors do.
Date.now = () => 1735689600000;

function time(fn, n) {
  const rounds = [];
  for (let r = 0; r < 5; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    rounds.push(Number(process.hrtime.bigint() - start) / n);
  }
  rounds.sort((a, b) => a - b);
  return rounds[2];
}

for (const [name, qr] of Object.entries(payloads)) {
  if (!BakongKHQR.verify(qr).isValid) throw new Error(`${name} should verify`);
  const n = 100000;
  time(() => BakongKHQR.decode(qr), n); // warm-up
  const decode = time(() => BakongKHQR.decode(qr), n);
  const verify = time(() => BakongKHQR.verify(qr), n);
  const both = time(() => { BakongKHQR.decode(qr); BakongKHQR.verify(qr); }, n);
  console.log(`${name}: decode ${decode.toFixed(0)} ns, verify ${verify.toFixed(0)} ns, decode+verify ${both.toFixed(0)} ns`);
}
