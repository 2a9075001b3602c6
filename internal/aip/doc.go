// Package aip holds the request conventions every service of the API
// shares, after Google's API Improvement Proposals: resource names
// (AIP-122), etags (AIP-154), update masks (AIP-134), pagination
// (AIP-158) and bounded text fields. Services call these instead of
// keeping their own copies, so a name, a mask or a page token is read the
// same way, with the same error, on every resource.
//
// Every function reports a bad value as a field violation on the
// caller's *apierr.InvalidArgument, so one request's problems are
// reported together (AIP-193) and a handler reads:
//
//	var v apierr.InvalidArgument
//	id := aip.ParseName(&v, "name", aip.Assets, req.GetName())
//	aip.CheckEtag(&v, "etag", req.GetEtag())
//	if err := v.Err(); err != nil { return nil, err }
package aip
