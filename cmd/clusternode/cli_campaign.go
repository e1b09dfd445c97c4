package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/roster-dev/roster/api"
)

// campaignTTL is the TTL of the process a campaign holds the name with;
// it is renewed every third of it, so a campaigner that dies loses the
// name within one TTL.
const campaignTTL = 10 * time.Second

func init() {
	cliCommands["campaign"] = cliCommand{
		summary: "become the holder of a global name (leader election): wait until it is free, hold it until interrupted",
		args:    "NAME",
		run:     cliCampaign,
		flags: func(fs *flag.FlagSet, o *cliOpts) {
			fs.StringVar(&o.meta, "meta", "", "JSON value stored with the name")
		},
		long: true,
	}
}

// cliCampaign spawns a mailbox process, registers NAME for it with
// blocking registers until it wins, prints the win (pid and fence), then
// renews the process until interrupted (it then exits: the name is free)
// or until a renewal fails (leadership lost: exit status 1).
func cliCampaign(ctx context.Context, c *api.Client, o *cliOpts, args []string, w io.Writer) error {
	name := args[0]
	var meta any
	if o.meta != "" {
		if !json.Valid([]byte(o.meta)) {
			return usagef("-meta %q is not JSON", o.meta)
		}
		meta = json.RawMessage(o.meta)
	}
	p, err := c.Processes().Spawn(ctx, campaignTTL)
	if err != nil {
		return err
	}
	defer func() {
		kctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Processes().Kill(kctx, p.PID)
	}()
	var reg *api.Registration
	for reg == nil {
		rctx, cancel := context.WithTimeout(ctx, 40*time.Second)
		reg, err = c.Names().RegisterWait(rctx, name, p.PID, meta, 30*time.Second)
		cancel()
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, api.ErrNameTaken):
			if _, rerr := c.Processes().Renew(ctx, p.PID, campaignTTL); rerr != nil {
				return fmt.Errorf("campaign process lost while waiting: %w", rerr)
			}
		default:
			return err
		}
	}
	if o.json {
		if err := printJSON(w, reg); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(w, "leader of %s: pid %s fence %d\n", safeText(name), safeText(string(reg.PID)), reg.Fence)
	}
	t := time.NewTicker(campaignTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if !o.json {
				fmt.Fprintf(w, "resigned %s\n", safeText(name))
			}
			return nil
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, campaignTTL/3)
		_, err := c.Processes().Renew(rctx, p.PID, campaignTTL)
		cancel()
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("leadership of %s lost: %w", name, err)
		}
		cur, err := c.Names().Lookup(ctx, name, api.ReadOptions{})
		if err == nil && cur.Fence != reg.Fence {
			return fmt.Errorf("leadership of %s lost: now held by %s at fence %d", name, cur.PID, cur.Fence)
		}
	}
}
