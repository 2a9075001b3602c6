// Package openapi embeds the OpenAPI (Swagger 2.0) document that
// protoc-gen-openapiv2 generates from proto/, served at GET /openapi.json.
// This file is hand-written; `make generate` only replaces the JSON.
package openapi

import _ "embed"

// JSON is the merged OpenAPI document for every SPARC service.
//
//go:embed sparc.swagger.json
var JSON []byte
