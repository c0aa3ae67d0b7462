package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tldw-go/tldw/audit"
)

// auditCmd runs `tldwd audit verify` and `tldwd audit export`.
func auditCmd(ctx context.Context, h host, o options, args []string) int {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "export") {
		fmt.Fprintln(h.stderr, "usage: tldwd audit verify | tldwd audit export [--format csv|jsonl|json] [--action A] [--user-id N] [--days N] [--out FILE]")
		return 2
	}
	if args[0] == "verify" {
		app, code := openApp(ctx, h, o)
		if app == nil {
			return code
		}
		defer app.Close()
		rep, err := app.VerifyAudit(ctx)
		if err != nil {
			return fail(h, err)
		}
		if !rep.OK {
			fmt.Fprintf(h.stdout, "BROKEN at seq %d: %s (%s); %d rows checked\n", rep.Break.Seq, rep.Break.Kind, rep.Break.Detail, rep.Checked)
			return 1
		}
		fmt.Fprintf(h.stdout, "ok: %d rows verified (seq %d..%d), head %s\n", rep.Checked, rep.From, rep.Head, rep.HeadHash)
		return 0
	}
	fs := flag.NewFlagSet("audit export", flag.ContinueOnError)
	fs.SetOutput(h.stderr)
	format := fs.String("format", "csv", "csv, jsonl or json")
	action := fs.String("action", "", "action name; a trailing * matches a prefix")
	userID := fs.Int64("user-id", 0, "acting user id")
	days := fs.Int("days", 0, "only the last N days (0 = all)")
	out := fs.String("out", "", "output file (default standard output)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	f := audit.Filter{UserID: *userID}
	if *action != "" {
		f.Actions = audit.Expand(*action)
		if p, ok := strings.CutSuffix(strings.ToLower(*action), "*"); ok {
			f.ActionPrefix = p
		}
	}
	if *days > 0 {
		f.Since = time.Now().Add(-time.Duration(*days) * 24 * time.Hour)
	}
	app, code := openApp(ctx, h, o)
	if app == nil {
		return code
	}
	defer app.Close()
	var w io.Writer = h.stdout
	if *out != "" {
		file, err := os.OpenFile(*out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return fail(h, err)
		}
		defer file.Close()
		w = file
	}
	if err := audit.WriteExport(w, *format, app.AuditLog.Scan(ctx, f)); err != nil {
		return fail(h, err)
	}
	return 0
}
