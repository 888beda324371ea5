// Opens a sealed notice in the recipient's browser, so that the server never holds its
// plaintext: the broker's Ed25519 signature is checked first, then the body is decrypted with
// HPKE (RFC 9180, base mode, single shot), exactly as producers/crypto.py and
// producers/envelopes.py seal it. Every primitive is WebCrypto's except ML-KEM-768 and
// SHA3-256 (the hybrid suite's), which WebCrypto lacks and the vendored noble bundle gives.
//
//   const key = await importRecipientKey(pemTextOrHybridFileBytes);
//     (or importX25519Secret(raw32) / importHybridSecret(raw96) for a key's bare secret bytes)
//   const signers = await importBrokerSigningKeys(brokerPublicTxt);
//   const body = await openNotice(sealedNoticeJson, key, signers);  // NoticeBody, parsed
//
// Errors are NoticeOpenError with a `code`; their messages name key ids, never content.

import { ml_kem768, sha3_256 } from "./vendor/noble-post-quantum.js";

const subtle = globalThis.crypto.subtle;
const utf8 = new TextEncoder();

export const SUITE_X25519 = "DHKEM(X25519,HKDF-SHA256)/HKDF-SHA256/AES-256-GCM";
export const SUITE_HYBRID = "MLKEM768-X25519/HKDF-SHA256/AES-256-GCM";

// What producers/crypto.py binds and signs: the purpose label before the header in HPKE's
// info, and the signature's context before the length-prefixed header.
const NOTICE_PURPOSE = utf8.encode("sgb/notice/v1");
const SIGNATURE_CONTEXT = utf8.encode("sgb/signed-envelope/v1");
// producers/recipient_keys.py: a hybrid private key file is this tag, the 64-byte ML-KEM
// seed (d || z), then the 32-byte X25519 private key.
const HYBRID_FILE_TAG = utf8.encode("sgb-mlkem768-x25519-private-v1\n");
// PKCS#8 wrapping of a raw X25519 private key (RFC 8410): WebCrypto imports no raw private key.
const X25519_PKCS8_PREFIX = hex("302e020100300506032b656e04220420");

// RFC 9180 identifiers: the KEM (0x0020 DHKEM(X25519, HKDF-SHA256); 0x647a MLKEM768-X25519,
// i.e. X-Wing, as draft-ietf-hpke-pq numbers it), HKDF-SHA256 (0x0001), AES-256-GCM (0x0002).
const KEM_X25519 = 0x0020;
const KEM_HYBRID = 0x647a;
const KDF_HKDF_SHA256 = 0x0001;
const AEAD_AES_256_GCM = 0x0002;
const AEAD_KEY_BYTES = 32;
const AEAD_NONCE_BYTES = 12;
const X25519_BYTES = 32;
const MLKEM768_PUBLIC_BYTES = 1184;
const MLKEM768_CIPHERTEXT_BYTES = 1088;
const HYBRID_ENC_BYTES = MLKEM768_CIPHERTEXT_BYTES + X25519_BYTES;
const XWING_LABEL = utf8.encode("\\.//^\\");

export class NoticeOpenError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "NoticeOpenError";
    this.code = code; // bad-input | unknown-key | retired-key | bad-signature | wrong-key | decryption
  }
}

// ---------------------------------------------------------------- keys

// A recipient's private key as producers/recipient_keys.py and producers/crypto.py write it:
// an X25519 PKCS#8 PEM (text or bytes), or a hybrid key file's bytes.
export async function importRecipientKey(input) {
  const bytes = typeof input === "string" ? null : asBytes(input);
  if (bytes && startsWith(bytes, HYBRID_FILE_TAG)) {
    return importHybridSecret(bytes.subarray(HYBRID_FILE_TAG.length));
  }
  const text = typeof input === "string" ? input : new TextDecoder().decode(bytes);
  const match = /-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\s]+)-----END PRIVATE KEY-----/.exec(text);
  if (!match) {
    throw new NoticeOpenError("bad-input", "not a recipient key: expected an X25519 PKCS#8 PEM or a hybrid key file");
  }
  const pkcs8 = base64Decode(match[1].replace(/\s+/g, ""), "the key file");
  const { privateKey, publicRaw } = await importX25519Pkcs8(pkcs8);
  return classicKey(privateKey, publicRaw);
}

// A classic key's 32 raw secret bytes (as a wrapped key unwraps to, say).
export async function importX25519Secret(secret) {
  secret = asBytes(secret);
  if (secret.length !== X25519_BYTES) {
    throw new NoticeOpenError("bad-input", "an X25519 private key is 32 bytes");
  }
  const { privateKey, publicRaw } = await importX25519Pkcs8(concat(X25519_PKCS8_PREFIX, secret));
  return classicKey(privateKey, publicRaw);
}

async function classicKey(privateKey, publicRaw) {
  return Object.freeze({ suite: SUITE_X25519, keyId: await keyId(publicRaw), x25519: privateKey, x25519Public: publicRaw });
}

// The 96 secret bytes of a hybrid key (ML-KEM seed, then X25519 private key).
export async function importHybridSecret(secret) {
  secret = asBytes(secret);
  if (secret.length !== 96) {
    throw new NoticeOpenError("bad-input", "a hybrid key's secret is 96 bytes (ML-KEM-768 seed and X25519 key)");
  }
  const { publicKey: mlkemPublic, secretKey: mlkemSecret } = ml_kem768.keygen(secret.slice(0, 64));
  const { privateKey, publicRaw } = await importX25519Pkcs8(concat(X25519_PKCS8_PREFIX, secret.subarray(64)));
  return Object.freeze({
    suite: SUITE_HYBRID,
    keyId: await keyId(concat(mlkemPublic, publicRaw)), // recipient_keys.key_id: over both
    x25519: privateKey,
    x25519Public: publicRaw,
    mlkemSecret,
  });
}

async function importX25519Pkcs8(pkcs8) {
  let extractable;
  try {
    extractable = await subtle.importKey("pkcs8", pkcs8, { name: "X25519" }, true, ["deriveBits"]);
  } catch {
    throw new NoticeOpenError("bad-input", "the key file holds no X25519 private key");
  }
  // The public half comes out of the JWK export; the key kept is a non-extractable copy.
  const jwk = await subtle.exportKey("jwk", extractable);
  const privateKey = await subtle.importKey("pkcs8", pkcs8, { name: "X25519" }, false, ["deriveBits"]);
  return { privateKey, publicRaw: base64UrlDecode(jwk.x) };
}

// The broker's signing keys from its broker-public.txt (producers/broker_keys.py): the current
// one and the retired ones, each of those vouching only for notices created up to its not_after.
export async function importBrokerSigningKeys(text) {
  if (typeof text !== "string") {
    throw new NoticeOpenError("bad-input", "the broker's public keys are the text of broker-public.txt");
  }
  const keys = [];
  for (const line of text.split(/\s+/)) {
    const [name, value] = splitOnce(line, "=");
    if (name === "signing") keys.push(await signingKey(value, null, false));
    if (name === "retired-signing") {
      const [key, stamp] = splitOnce(value, ",");
      keys.push(await signingKey(key, stamp ? parseInstant(stamp) : null, true));
    }
  }
  if (!keys.some((k) => !k.retired)) {
    throw new NoticeOpenError("bad-input", "the broker's public keys name no current signing key");
  }
  return Object.freeze(keys);
}

async function signingKey(base64, notAfter, retired) {
  const raw = base64Decode(base64, "a broker signing key");
  if (raw.length !== 32) throw new NoticeOpenError("bad-input", "a broker signing key is 32 bytes");
  const key = await subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
  return Object.freeze({ keyId: await keyId(raw), key, notAfter, retired });
}

// ---------------------------------------------------------------- notices

// The notice's body (NoticeBody as parsed JSON) once the broker's signature holds and it
// decrypts with this key; nothing unsigned is decrypted (as envelopes.open_notice).
export async function openNotice(sealedNoticeJson, recipientPrivateKey, brokerSigningKeys) {
  const sealed = parseSealed(sealedNoticeJson);
  const headerBytes = utf8.encode(sealed.header);
  const header = parseHeader(sealed.header);
  const ciphertext = base64Decode(sealed.ciphertext, "the notice's ciphertext");
  const signature = base64Decode(sealed.signature, "the notice's signature");

  const signers = Array.isArray(brokerSigningKeys)
    ? brokerSigningKeys
    : await importBrokerSigningKeys(brokerSigningKeys);
  const signer = signerFor(signers, header);
  const signed = concat(SIGNATURE_CONTEXT, uint64(headerBytes.length), headerBytes, ciphertext);
  if (!(await subtle.verify({ name: "Ed25519" }, signer.key, signature, signed))) {
    throw new NoticeOpenError("bad-signature", `the broker's signature (key ${signer.keyId}) does not match this notice`);
  }

  const key = recipientPrivateKey;
  if (!key || !key.x25519) throw new NoticeOpenError("bad-input", "no recipient key: import it with importRecipientKey");
  if (header.recipient_key_id !== key.keyId) {
    throw new NoticeOpenError("wrong-key", `sealed to key ${header.recipient_key_id}, not to this key (${key.keyId})`);
  }
  const suite = header.suite ?? SUITE_X25519; // notices sealed before the suite was named
  if (suite !== key.suite) {
    throw new NoticeOpenError("wrong-key", `sealed with ${suite}, but this key is for ${key.suite}`);
  }
  const info = concat(NOTICE_PURPOSE, utf8.encode("\n"), headerBytes);
  const plaintext = await hpkeOpen(suite, ciphertext, key, info);
  return parseJson(new TextDecoder("utf-8", { fatal: true }).decode(plaintext), "the decrypted body");
}

function signerFor(signers, header) {
  const signer = signers.find((s) => s.keyId === header.signing_key_id);
  if (!signer) {
    throw new NoticeOpenError("unknown-key", `signed with broker key ${header.signing_key_id}, which this browser does not know`);
  }
  // A retired key (perhaps retired because it leaked) vouches for nothing created later.
  if (signer.notAfter && parseInstant(header.created_at) > signer.notAfter) {
    throw new NoticeOpenError("retired-key", `signed with broker key ${signer.keyId} after it was retired`);
  }
  return signer;
}

function parseHeader(text) {
  const header = parseJson(text, "the notice's header");
  const named = ["signing_key_id", "recipient_key_id", "created_at"];
  if (!header || typeof header !== "object" || !named.every((f) => typeof header[f] === "string")) {
    throw new NoticeOpenError("bad-input", "the notice's header names no signing key, recipient key or creation time");
  }
  return header;
}

function parseSealed(input) {
  const sealed = typeof input === "string" ? parseJson(input, "the sealed notice") : input;
  const fields = ["header", "ciphertext", "signature"];
  if (!sealed || typeof sealed !== "object" || !fields.every((f) => typeof sealed[f] === "string")) {
    throw new NoticeOpenError("bad-input", "not a sealed notice: expected header, ciphertext and signature strings");
  }
  return sealed;
}

// ---------------------------------------------------------------- HPKE open (RFC 9180)

async function hpkeOpen(suite, sealedBytes, key, info) {
  const kem = suite === SUITE_HYBRID ? KEM_HYBRID : KEM_X25519;
  const encLength = kem === KEM_HYBRID ? HYBRID_ENC_BYTES : X25519_BYTES;
  if (sealedBytes.length < encLength + 16) throw decryptionFailed();
  const enc = sealedBytes.subarray(0, encLength);
  const ct = sealedBytes.subarray(encLength);
  const sharedSecret = kem === KEM_HYBRID ? await xwingDecap(enc, key) : await dhkemDecap(enc, key);

  // Key schedule, base mode (section 5.1): no PSK, so psk_id_hash is over empty input.
  const suiteId = concat(utf8.encode("HPKE"), uint16(kem), uint16(KDF_HKDF_SHA256), uint16(AEAD_AES_256_GCM));
  const pskIdHash = await labeledExtract(suiteId, new Uint8Array(0), "psk_id_hash", new Uint8Array(0));
  const infoHash = await labeledExtract(suiteId, new Uint8Array(0), "info_hash", info);
  const context = concat(new Uint8Array([0x00]), pskIdHash, infoHash);
  const secret = await labeledExtract(suiteId, sharedSecret, "secret", new Uint8Array(0));
  const aeadKey = await labeledExpand(suiteId, secret, "key", context, AEAD_KEY_BYTES);
  const nonce = await labeledExpand(suiteId, secret, "base_nonce", context, AEAD_NONCE_BYTES);
  // Single shot: the first (and only) message's nonce is base_nonce XOR 0.
  const cryptoKey = await subtle.importKey("raw", aeadKey, { name: "AES-GCM" }, false, ["decrypt"]);
  try {
    return new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: nonce }, cryptoKey, ct));
  } catch {
    throw decryptionFailed();
  }
}

// DHKEM(X25519, HKDF-SHA256) Decap (section 4.1).
async function dhkemDecap(enc, key) {
  const dh = await x25519(key.x25519, enc);
  const kemId = concat(utf8.encode("KEM"), uint16(KEM_X25519));
  const eaePrk = await labeledExtract(kemId, new Uint8Array(0), "eae_prk", dh);
  return labeledExpand(kemId, eaePrk, "shared_secret", concat(enc, key.x25519Public), 32);
}

// X-Wing (MLKEM768-X25519) Decap: ML-KEM's and X25519's secrets combined by SHA3-256 with the
// X25519 ciphertext and public key, as producers' cryptography implements it.
async function xwingDecap(enc, key) {
  const ctM = enc.subarray(0, MLKEM768_CIPHERTEXT_BYTES);
  const ctX = enc.subarray(MLKEM768_CIPHERTEXT_BYTES);
  const ssM = ml_kem768.decapsulate(ctM, key.mlkemSecret); // implicit rejection: never throws
  const ssX = await x25519(key.x25519, ctX);
  return sha3_256(concat(ssM, ssX, ctX, key.x25519Public, XWING_LABEL));
}

async function x25519(privateKey, peerRaw) {
  try {
    const peer = await subtle.importKey("raw", peerRaw, { name: "X25519" }, false, []);
    return new Uint8Array(await subtle.deriveBits({ name: "X25519", public: peer }, privateKey, 256));
  } catch {
    throw decryptionFailed(); // a malformed or low-order ephemeral key
  }
}

function decryptionFailed() {
  return new NoticeOpenError("decryption", "the notice does not decrypt with this key and header");
}

// LabeledExtract and LabeledExpand (section 4) over HKDF-SHA256, built from HMAC-SHA256.
async function labeledExtract(suiteId, salt, label, ikm) {
  const labeled = concat(utf8.encode("HPKE-v1"), suiteId, utf8.encode(label), ikm);
  return hmacSha256(salt.length ? salt : new Uint8Array(32), labeled);
}

async function labeledExpand(suiteId, prk, label, info, length) {
  const labeled = concat(uint16(length), utf8.encode("HPKE-v1"), suiteId, utf8.encode(label), info);
  const out = new Uint8Array(length);
  let block = new Uint8Array(0);
  for (let counter = 1, filled = 0; filled < length; counter++) {
    block = await hmacSha256(prk, concat(block, labeled, new Uint8Array([counter])));
    out.set(block.subarray(0, Math.min(block.length, length - filled)), filled);
    filled += block.length;
  }
  return out;
}

async function hmacSha256(keyBytes, data) {
  const key = await subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await subtle.sign("HMAC", key, data));
}

// ---------------------------------------------------------------- bytes

// crypto.key_id: the first 16 hex digits of the SHA-256 of a public key's raw bytes.
async function keyId(publicRaw) {
  const digest = new Uint8Array(await subtle.digest("SHA-256", publicRaw));
  return Array.from(digest.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

function base64Decode(text, what) {
  // Strict, as Python's b64decode(validate=True): no stray characters, correct padding.
  if (typeof text !== "string" || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw new NoticeOpenError("bad-input", `${what} is not base64`);
  }
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function base64UrlDecode(text) {
  const standard = text.replace(/-/g, "+").replace(/_/g, "/");
  return base64Decode(standard + "=".repeat((4 - (standard.length % 4)) % 4), "a key");
}

function parseJson(text, what) {
  try {
    return JSON.parse(text);
  } catch {
    throw new NoticeOpenError("bad-input", `${what} is not JSON`);
  }
}

function parseInstant(text) {
  const time = Date.parse(text);
  if (Number.isNaN(time)) throw new NoticeOpenError("bad-input", "a timestamp does not parse");
  return time;
}

function splitOnce(text, separator) {
  const at = text.indexOf(separator);
  return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + 1)];
}

function asBytes(input) {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  throw new NoticeOpenError("bad-input", "expected text, a Uint8Array or an ArrayBuffer");
}

function startsWith(bytes, prefix) {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function uint16(n) {
  return new Uint8Array([(n >> 8) & 0xff, n & 0xff]);
}

function uint64(n) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

function hex(text) {
  return Uint8Array.from(text.match(/../g), (h) => parseInt(h, 16));
}
