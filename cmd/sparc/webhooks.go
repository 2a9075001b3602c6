package main

import (
	"context"
	"fmt"
	"strconv"

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
	if err := c.parseFlagsOnly(fs, args); err != nil {
		return err
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
	if err := c.printWebhook(resp.GetWebhook(), nil); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "\nSigning secret, shown only now; store it safely (see docs/webhooks.md to verify deliveries):\n%s\n", resp.GetSecret())
	return nil
}

func webhooksGet(ctx context.Context, c *cli, args []string) error {
	return getByName(ctx, c, args, "webhooks get", "webhooks get NAME (webhooks/ID, or the ID)", "webhooks",
		sparcv1.NewWebhookServiceClient(c.conn).GetWebhook, c.printWebhook)
}

func webhooksList(ctx context.Context, c *cli, args []string) error {
	fs := withSynopsis(newFlags("webhooks list"), "webhooks list [--all]")
	var p pageFlags
	p.bind(fs)
	if err := c.parseFlagsOnly(fs, args); err != nil {
		return err
	}
	resp, err := listPages(ctx, &p, &sparcv1.ListWebhooksRequest{}, sparcv1.NewWebhookServiceClient(c.conn).ListWebhooks)
	if err != nil {
		return err
	}
	return printList(c, resp, resp.GetWebhooks(), "NAME\tURL\tPENDING\tFAILURES\tLAST SUCCESS\tLAST ERROR\tDESCRIPTION", func(h *sparcv1.Webhook) string {
		return fmt.Sprintf("%s\t%s\t%d\t%d\t%s\t%s\t%s", h.GetName(), truncate(clean(h.GetUrl()), 48), h.GetPending(),
			h.GetConsecutiveFailures(), orDash(formatTime(h.GetLastSuccessTime())), orDash(truncate(clean(h.GetLastError()), 32)),
			orDash(truncate(clean(h.GetDescription()), 32)))
	})
}

func webhooksDelete(ctx context.Context, c *cli, args []string) error {
	name, err := c.parseName(withSynopsis(newFlags("webhooks delete"), "webhooks delete NAME (webhooks/ID, or the ID)"), args, "webhooks")
	if err != nil {
		return err
	}
	empty, err := sparcv1.NewWebhookServiceClient(c.conn).DeleteWebhook(ctx, &sparcv1.DeleteWebhookRequest{Name: name})
	if err != nil {
		return err
	}
	return c.printResult(empty, "deleted %s: no more deliveries\n", name)
}

// printWebhook prints the webhook a call answered with, or returns the
// call's error.
func (c *cli) printWebhook(h *sparcv1.Webhook, err error) error {
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(h)
	}
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
