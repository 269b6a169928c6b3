"""ivote's cryptography, layered like pyca/cryptography.

High-level, safe surface (what the roles import):
- `crypto.paillier`: the election public key, encryption with explicit randomness, validation.
- `crypto.threshold`: threshold key generation (trusted dealer), decryption shares and their
  proofs, combination.
- `crypto.encoding`: packing 1-of-L choices into plaintexts and decoding totals.
- `crypto.membership`: 1-of-L ballot validity proofs, individual and batch verification.
- `crypto.sealing`: passphrase sealing of secret files (scrypt + AES-256-GCM).
- `crypto.eid`: e-ID signatures and certificate checks (ECDSA P-384, X.509).
- `crypto.merkle`: RFC 6962/9162 Merkle tree hashing, inclusion and consistency proofs.

Beneath it, `crypto.primitives`: the number theory (modular arithmetic, multi-exponentiation,
safe primes) on gmpy2. Everything here is pure functions over plain values and small frozen
dataclasses; randomness comes from `secrets` only.
"""
