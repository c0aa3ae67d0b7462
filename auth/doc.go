// Package auth holds tldw's identity and access rules: users, roles and
// permissions, passwords, tokens, sessions, registration codes and API keys.
//
// This part of the package is the pure building blocks the orchestrating
// auth.Service and the HTTP layer call; none of it touches storage:
//
//   - [Hasher]: argon2id password hashing in PHC form (bcrypt hashes of
//     imported users verify too), with a bounded number of concurrent hashes
//     so a login flood fails fast with [ErrBusy] instead of exhausting memory.
//   - [Policy]: tldw_server's password rules; [Policy.Check] reports every
//     violation at once in a [PolicyError].
//   - [Tokens]: JWT access, refresh, service, reset and verification tokens
//     (HS256, RS256, ES256 or EdDSA via go-jose). The verifier pins the
//     algorithm and key set, requires iss, aud and exp, and keeps token
//     kinds apart; previous keys stay valid during rotation.
//   - [Role], [Permission], [Role.Can], [CanActOn], [ScopeAllows]: the one
//     permission table.
//   - [NewAPIKey], [ParseAPIKey], [HashAPIKeySecret]: personal API keys
//     "tldw_<id>.<secret>", stored as a peppered hash.
//   - [RandomToken], [NewRefreshToken], [HashToken], [NewRegistrationCode]:
//     opaque secrets and their stored hashes.
//   - [CanonicalUsername], [CanonicalEmail]: NFKC + case-fold identities for
//     uniqueness and login.
//
// Errors are the sentinels in errors.go, wrapped with detail; test them with
// errors.Is. Everything here is safe for concurrent use.
package auth
