package main

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"

	"github.com/tldw-go/tldw/auth"
)

// quotaCmd runs `tldwd quota reconcile [--user N] [--fix]`: it recomputes each user's storage
// usage from their stored items and objects and reports (or, with --fix, corrects) drift.
// It exits 1 when drift remains.
func quotaCmd(ctx context.Context, h host, o options, args []string) int {
	if len(args) == 0 || args[0] != "reconcile" {
		fmt.Fprintln(h.stderr, "usage: tldwd quota reconcile [--user ID] [--fix]")
		return 2
	}
	fs := flag.NewFlagSet("quota reconcile", flag.ContinueOnError)
	fs.SetOutput(h.stderr)
	userID := fs.Int64("user", 0, "only this user id (default: every user)")
	fix := fs.Bool("fix", false, "correct the recorded usage")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	app, code := openApp(ctx, h, o)
	if app == nil {
		return code
	}
	defer app.Close()
	ids := []int64{*userID}
	if *userID == 0 {
		ids = nil
		f := auth.UserFilter{Limit: 100}
		for {
			users, total, err := app.Accounts().ListUsers(ctx, auth.SystemPrincipal(), f)
			if err != nil {
				return fail(h, err)
			}
			for _, u := range users {
				ids = append(ids, u.ID)
			}
			f.Offset += len(users)
			if len(users) == 0 || f.Offset >= total {
				break
			}
		}
	}
	tw := tabwriter.NewWriter(h.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tITEMS\tRECORDED\tACTUAL\tDRIFT\tORPHANS\tMISSING\tFIXED")
	drifted := false
	for _, id := range ids {
		d, err := app.Media().Reconcile(ctx, id, *fix)
		if err != nil {
			tw.Flush()
			return fail(h, err)
		}
		if d.Delta != 0 && !d.Fixed {
			drifted = true
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%+d\t%d\t%d\t%t\n", id, d.Items, d.Recorded, d.Actual, d.Delta, d.Orphans, d.Missing, d.Fixed)
	}
	tw.Flush()
	if drifted {
		fmt.Fprintln(h.stderr, "drift found; run with --fix to correct it")
		return 1
	}
	return 0
}
