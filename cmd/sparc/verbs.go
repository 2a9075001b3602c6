package main

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// getByName runs a "GROUP VERB NAME" command without flags of its own:
// it reads the one name (or bare id in collection), calls the method with
// a request holding just that name, and prints the answer with print
// (which handles -o json, and the call's error).
func getByName[Req, Resp proto.Message](ctx context.Context, c *cli, args []string, command, synopsis, collection string,
	call func(context.Context, Req, ...grpc.CallOption) (Resp, error), print func(Resp, error) error) error {
	name, err := c.parseName(withSynopsis(newFlags(command), synopsis), args, collection)
	if err != nil {
		return err
	}
	var req Req
	req = req.ProtoReflect().Type().New().Interface().(Req)
	setField(req, "name", protoreflect.ValueOfString(name))
	return print(call(ctx, req))
}

// printResult prints a call's answer: as JSON with -o json, else the line
// of text the format makes.
func (c *cli) printResult(m proto.Message, format string, args ...any) error {
	if c.output == "json" {
		return c.printJSON(m)
	}
	_, err := fmt.Fprintf(c.out, format, args...)
	return err
}
