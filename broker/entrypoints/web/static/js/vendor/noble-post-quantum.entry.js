// The only pieces of noble the browser needs that WebCrypto lacks: ML-KEM-768 (FIPS 203)
// and SHA3-256 (the X-Wing combiner).
export { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
export { sha3_256 } from "@noble/hashes/sha3.js";
