package main

import (
	"errors"
	"flag"
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
