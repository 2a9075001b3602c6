// Package hostile is SPARC's hostile test suite, run by `make test`. It
// has no code of its own: its tests start a real server with data in it
// and throw at every HTTP route (the gateway's, read from the OpenAPI
// document, and the plain routes the app serves) the input an attacker or
// a broken client sends: NUL and invalid UTF-8 in paths, queries and
// bodies, huge lists, values of the wrong type, unknown parameters, wrong
// methods; anonymously and with a key of every role. Whatever it sends,
// the answer must not be a 5xx and must not quote Go internals. It also
// reads the referral statistics as every role of both organisations of a
// referral, checking that only the referrer's own see exact figures.
package hostile
