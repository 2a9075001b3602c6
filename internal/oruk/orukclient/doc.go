// Package orukclient is the client side of Open Referral UK: it reads a
// feed (a dump file or a remote ORUK API), maps its services to SPARC
// assets and writes them through the DirectoryImportService RPC, and
// exports a directory as an ORUK dump through the public gRPC API. It runs
// in the CLI (sparc import oruk, sparc export oruk), never in the server;
// the ORUK model and taxonomy it shares with the server's ORUK API come
// from package oruk.
package orukclient
