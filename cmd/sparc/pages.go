package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// pageFlags are the paging flags of list and search.
type pageFlags struct {
	size  int
	token string
	all   bool
}

func (p *pageFlags) bind(fs *flag.FlagSet) {
	fs.IntVar(&p.size, "page-size", 0, "results per page (server default 20, maximum 100)")
	fs.StringVar(&p.token, "page-token", "", "token from a previous page of the same query")
	fs.BoolVar(&p.all, "all", false, "follow every page and print all results")
}

func (p *pageFlags) pageSize() (int32, error) {
	if p.size == 0 && p.all {
		return 100, nil // fewer round trips when fetching everything
	}
	if p.size < 0 {
		return 0, usagef("--page-size must not be negative")
	}
	return int32Flag("page-size", p.size)
}

// followPages calls fetch with each page token until the last page (or
// once without --all); fetch returns the next token.
func (p *pageFlags) followPages(fetch func(token string) (string, error)) (string, error) {
	token := p.token
	for {
		next, err := fetch(token)
		if err != nil || !p.all || next == "" {
			return next, err
		}
		if next == token {
			return "", errors.New("server returned the same page token twice; stopping")
		}
		token = next
	}
}

// page is the answer of a List (or Search) call: its items and the token
// of the page after them.
type page interface {
	proto.Message
	GetNextPageToken() string
}

// listPages calls a List (or Search) method with req for the page
// --page-token names, or for every page with --all; it sets req's
// page_size and page_token (every such request has them, AIP-158), the
// caller the filters. It returns the first answer holding the items of
// every page fetched and the token of the page after the last one.
func listPages[Req proto.Message, Resp page](ctx context.Context, p *pageFlags, req Req,
	list func(context.Context, Req, ...grpc.CallOption) (Resp, error)) (Resp, error) {
	var all Resp
	size, err := p.pageSize()
	if err != nil {
		return all, err
	}
	setField(req, "page_size", protoreflect.ValueOfInt32(size))
	first := true
	_, err = p.followPages(func(token string) (string, error) {
		setField(req, "page_token", protoreflect.ValueOfString(token))
		resp, err := list(ctx, req)
		if err != nil {
			return "", err
		}
		if first {
			all, first = resp, false
		} else {
			// Merging appends the repeated items; the token is the last page's.
			proto.Merge(all, resp)
			setField(all, "next_page_token", protoreflect.ValueOfString(resp.GetNextPageToken()))
		}
		return resp.GetNextPageToken(), nil
	})
	return all, err
}

// setField sets the field of m with this proto name, which m's type must
// have.
func setField(m proto.Message, name string, v protoreflect.Value) {
	r := m.ProtoReflect()
	fd := r.Descriptor().Fields().ByName(protoreflect.Name(name))
	if fd == nil {
		panic(fmt.Sprintf("%s has no field %s", r.Descriptor().FullName(), name))
	}
	r.Set(fd, v)
}

// printList prints a List answer: as JSON with -o json, else a table of
// the header and a row(item) line for each item (columns tab-separated),
// then, on the notes stream, how to fetch the page after it.
func printList[T any](c *cli, resp page, items []T, header string, row func(T) string) error {
	if c.output == "json" {
		return c.printJSON(resp)
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, header)
	for _, item := range items {
		fmt.Fprintln(w, row(item))
	}
	return c.flushWithMore(w, resp.GetNextPageToken())
}

// flushWithMore prints a table and, when a page follows, how to get it
// (on the notes stream, so the table stays data).
func (c *cli) flushWithMore(w *tabwriter.Writer, next string) error {
	if err := w.Flush(); err != nil {
		return err
	}
	if next != "" && c.errOut != nil {
		fmt.Fprintf(c.errOut, "more results: --page-token %s\n", next)
	}
	return nil
}

// collect follows the pages of one list call (all of them with --all, else
// the one asked for) and returns their items with the token of the page
// after the last one fetched. fetch asks for the page at token and returns
// its items and next_page_token, e.g.
//
//	all, next, err := collect(&p, func(token string) ([]*sparcv1.Webhook, string, error) {
//		req.PageToken = token
//		resp, err := client.ListWebhooks(ctx, req)
//		return resp.GetWebhooks(), resp.GetNextPageToken(), err
//	})
func collect[T any](p *pageFlags, fetch func(token string) ([]T, string, error)) ([]T, string, error) {
	var all []T
	next, err := p.followPages(func(token string) (string, error) {
		items, next, err := fetch(token)
		all = append(all, items...)
		return next, err
	})
	return all, next, err
}
