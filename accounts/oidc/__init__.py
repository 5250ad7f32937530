"""Company sign-in with OpenID Connect (docs/architecture.md, "Company sign-in").

Authlib runs the protocol (authorization code flow with PKCE, state, nonce; the ID
token's signature, iss, aud, exp and nonce checked). The project's own code is the
mapping claims → person → teams and keeping sessions honest:

- `config`: the settings, read in one place;
- `client`: the Authlib client, discovery and JWKS cached, token checks, renewal;
- `identity`: `OidcIdentity`, a person's (issuer, sub);
- `people`: claims → the person (match by sub, create, link by verified e-mail);
- `sync`: groups → the members of teams with an `idp_group`;
- `views`, `urls`, `failures`: the sign-in, callback, sign-out and failure pages;
- `renewal`, `middleware`, `sockets`: a session is re-checked with the IdP every
  OIDC_RENEW_SECONDS, on pages and on open websockets, and ends when refused.
"""
