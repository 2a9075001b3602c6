package main

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

func init() {
	register("webhooks create", "push your organisation's referral changes to an https endpoint, signed (prints the secret once)", webhooksCreate)
	register("webhooks list", "list your organisation's webhooks with their delivery state", webhooksList)
	register("webhooks get", "show a webhook and how its deliveries are going", webhooksGet)
	register("webhooks delete", "stop a webhook's deliveries", webhooksDelete)
}

func webhooksCreate(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("webhooks create"), "webhooks create --url URL [--description TEXT]")
	var u, description string
	fs.StringVar(&u, "url", "", "https URL that receives each change as a signed POST (http only to 127.0.0.1, ::1 or localhost)")
	fs.StringVar(&description, "description", "", "what the endpoint is for (up to 200 characters)")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if u == "" {
		return usagef("--url is required")
	}
	resp, err := sparcv1.NewWebhookServiceClient(c.conn).CreateWebhook(ctx, &sparcv1.CreateWebhookRequest{
		Webhook: &sparcv1.Webhook{Url: u, Description: description}})
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(resp)
	}
	if err := c.printWebhook(resp.GetWebhook()); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "\nSigning secret, shown only now; store it safely (see docs/webhooks.md to verify deliveries):\n%s\n", resp.GetSecret())
	return nil
}

// webhookArg reads the arguments of "webhooks get|delete NAME" and
// returns the webhook's name.
func webhookArg(c *cli, command string, args []string) (string, error) {
	fs := withSynopsis(newFlags(command), command+" NAME (webhooks/ID, or the ID)")
	pos, err := c.parse(fs, args)
	if err != nil {
		return "", err
	}
	return oneName("webhooks", pos)
}

func webhooksGet(ctx context.Context, c *cli, args []string) error {
	name, err := webhookArg(c, "webhooks get", args)
	if err != nil {
		return err
	}
	h, err := sparcv1.NewWebhookServiceClient(c.conn).GetWebhook(ctx, &sparcv1.GetWebhookRequest{Name: name})
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(h)
	}
	return c.printWebhook(h)
}

func webhooksList(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("webhooks list"), "webhooks list [--all]")
	var p pageFlags
	p.bind(fs)
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	req := &sparcv1.ListWebhooksRequest{}
	if req.PageSize, err = p.pageSize(); err != nil {
		return err
	}
	all, next, err := collect(&p, func(token string) ([]*sparcv1.Webhook, string, error) {
		req.PageToken = token
		resp, err := sparcv1.NewWebhookServiceClient(c.conn).ListWebhooks(ctx, req)
		return resp.GetWebhooks(), resp.GetNextPageToken(), err
	})
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(&sparcv1.ListWebhooksResponse{Webhooks: all, NextPageToken: next})
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tURL\tPENDING\tFAILURES\tLAST SUCCESS\tLAST ERROR\tDESCRIPTION")
	for _, h := range all {
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", h.GetName(), truncate(clean(h.GetUrl()), 48), h.GetPending(),
			h.GetConsecutiveFailures(), orDash(formatTime(h.GetLastSuccessTime())), orDash(truncate(clean(h.GetLastError()), 32)),
			orDash(truncate(clean(h.GetDescription()), 32)))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if next != "" && c.errOut != nil {
		fmt.Fprintf(c.errOut, "more results: --page-token %s\n", next)
	}
	return nil
}

func webhooksDelete(ctx context.Context, c *cli, args []string) error {
	name, err := webhookArg(c, "webhooks delete", args)
	if err != nil {
		return err
	}
	empty, err := sparcv1.NewWebhookServiceClient(c.conn).DeleteWebhook(ctx, &sparcv1.DeleteWebhookRequest{Name: name})
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(empty)
	}
	fmt.Fprintf(c.out, "deleted %s: no more deliveries\n", name)
	return nil
}

func (c *cli) printWebhook(h *sparcv1.Webhook) error {
	return c.keyValues([][2]string{
		{"NAME", h.GetName()},
		{"URL", h.GetUrl()},
		{"DESCRIPTION", h.GetDescription()},
		{"ORGANISATION", h.GetOrganisation()},
		{"CREATED", formatTime(h.GetCreateTime())},
		{"PENDING", strconv.FormatInt(h.GetPending(), 10)},
		{"LAST SUCCESS", formatTime(h.GetLastSuccessTime())},
		{"LAST FAILURE", formatTime(h.GetLastFailureTime())},
		{"LAST ERROR", h.GetLastError()},
		{"FAILURES", strconv.Itoa(int(h.GetConsecutiveFailures()))},
		{"NEXT ATTEMPT", formatTime(h.GetNextAttemptTime())},
	})
}
