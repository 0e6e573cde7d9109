package platform

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	usecase "github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/eventstore/audit"
)

func (a *app) auditCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "audit", Short: "Export, verify, sign and replay tenant histories (eventstore/audit/AUDIT.md)"})
	cmd.AddCommand(a.withDatabaseURL(a.auditExportCmd()), a.withDatabaseURL(a.auditVerifyCmd()), a.withDatabaseURL(a.auditHeadCmd()),
		a.withDatabaseURL(a.auditReplayCmd()), a.auditKeygenCmd())
	return cmd
}

// tenantRef resolves --tenant (slug or id) through the directory (findTenant).
func tenantRef(ctx context.Context, a *app, ref string) (uuid.UUID, *eventstore.Store, *eventstore.Registry, func(), error) {
	if err := checkTenantRef(ref); err != nil {
		return uuid.Nil, nil, nil, nil, err
	}
	store, reg, closeStore, err := a.openRuntime(ctx, eventstore.ForAPI)
	if err != nil {
		return uuid.Nil, nil, nil, nil, err
	}
	t, err := findTenant(ctx, store, ref)
	if err != nil {
		closeStore()
		return uuid.Nil, nil, nil, nil, err
	}
	return t.ID, store, reg, closeStore, nil
}

func (a *app) auditExportCmd() *cobra.Command {
	var ref, out string
	cmd := &cobra.Command{
		Use:   "export --tenant X [--out FILE]",
		Short: "Write the tenant's whole history as NDJSON, ending with its head (signed with TENANTRY_AUDIT_SIGNING_KEY)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			id, store, _, closePool, err := tenantRef(ctx, a, ref)
			if err != nil {
				return err
			}
			defer closePool()
			w := io.Writer(a.stdout)
			var f *os.File
			if out != "" && out != "-" {
				if f, err = os.Create(out); err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			progress := a.progress("events exported")
			export := usecase.Export{Events: store, Heads: store, Signer: a.cfg.AuditSigner, Now: time.Now}
			res, err := export.Write(ctx, usecase.ExportInput{Tenant: id, Progress: func(seq, total int64) {
				progress(int(seq), int(max(total, 1)))
			}}, w)
			if err != nil {
				return err
			}
			head := res.Head
			if f != nil {
				if err := f.Sync(); err != nil {
					return err
				}
			}
			a.log.Info("tenant exported", "tenant_id", id, "events", head.Seq, "signed", head.Signature != "")
			return nil
		},
	}
	cmd.Flags().StringVar(&ref, "tenant", "", "the tenant, by slug or id")
	cmd.Flags().StringVar(&out, "out", "", "write to this file instead of standard output")
	return cmd
}

func (a *app) auditVerifyCmd() *cobra.Command {
	var ref, file, headFile, pubHex string
	cmd := &cobra.Command{
		Use:   "verify (--file FILE [--public-key HEX] [--head FILE] | --tenant X)",
		Short: "Verify an export offline (no database), or a tenant's live stream; exits 1 and names the first bad seq",
		Long: "--file checks an export by AUDIT.md alone: the hash chain, the head, its signature (with\n" +
			"--public-key, or the public key of TENANTRY_AUDIT_SIGNING_KEY), and with --head that the history\n" +
			"extends a head published earlier. --tenant re-hashes the live stream in the database.\n" +
			"Both print the report of AUDIT.md section 3 as one line of JSON. Exit status: 0 verified,\n" +
			"1 verification failed, 2 no verdict (usage error, unreadable input, a --head file that is not a\n" +
			"head, a --public-key that is not a key); on 2 nothing is printed on standard output.",
		Args:        usageArgs(cobra.NoArgs),
		Annotations: map[string]string{errorExitCode: "2"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if (file == "") == (ref == "") {
				return usageErr(errors.New("give either --file or --tenant"))
			}
			if ref != "" {
				if headFile != "" || cmd.Flags().Changed("public-key") {
					return usageErr(errors.New("--head and --public-key apply to --file only"))
				}
				return a.verifyTenant(ctx, ref)
			}
			var opts audit.VerifyOptions
			switch {
			case cmd.Flags().Changed("public-key"):
				pub, err := audit.ParsePublicKey(pubHex)
				if err != nil {
					return usageErr(fmt.Errorf("--public-key: %w", err))
				}
				opts.PublicKey = pub
			case a.cfg.AuditSigner != nil:
				opts.PublicKey = a.cfg.AuditSigner.PublicKey()
			}
			if headFile != "" {
				h, err := readHeadFile(headFile)
				if err != nil {
					return usageErr(fmt.Errorf("--head %s: %w", headFile, err))
				}
				opts.Earlier = &h
			}
			in := io.Reader(os.Stdin)
			var size int64
			if file != "-" {
				f, err := os.Open(file)
				if err != nil {
					return usageErr(err)
				}
				defer f.Close()
				if fi, err := f.Stat(); err == nil {
					size = fi.Size()
				}
				in = f
			}
			if size > 0 {
				in = &countingReader{r: in, size: size, progress: a.progress("bytes verified")}
			}
			rep, err := audit.Verify(in, opts)
			if err != nil {
				return usageErr(fmt.Errorf("read %s: %w", file, err))
			}
			if err := a.printReport(rep, file); err != nil {
				return err
			}
			if opts.PublicKey == nil {
				a.log.Warn("the head's signature was not checked: give --public-key")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "an export file (- for standard input)")
	cmd.Flags().StringVar(&ref, "tenant", "", "verify this tenant's live stream instead (slug or id)")
	cmd.Flags().StringVar(&headFile, "head", "", "a head published earlier that the history must extend")
	cmd.Flags().StringVar(&pubHex, "public-key", "", "the published Ed25519 public key, 64 hex digits")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr(err) })
	return cmd
}

// verifyTenant re-hashes the tenant's live stream and prints the report in the same shape as
// an offline verification, so that one parser reads both.
func (a *app) verifyTenant(ctx context.Context, ref string) error {
	id, store, _, closePool, err := tenantRef(ctx, a, ref)
	if err != nil {
		return usageErr(err)
	}
	defer closePool()
	got, err := usecase.Verify{Chains: store}.Chain(ctx, usecase.VerifyInput{Tenant: id, Now: time.Now()})
	if err != nil {
		return usageErr(err)
	}
	return a.printReport(audit.ChainReport(got.Report), "tenant "+id.String())
}

// printReport prints rep as one line of JSON; a failed verification is an error that exits 1.
func (a *app) printReport(rep audit.Report, what string) error {
	if err := json.NewEncoder(a.stdout).Encode(rep); err != nil {
		return err
	}
	if !rep.OK {
		return &exitError{code: 1, err: fmt.Errorf("%s: %s at seq %d", what, rep.Problem, rep.FirstBadSeq)}
	}
	return nil
}

// readHeadFile reads at most one byte more than a head file may hold (AUDIT.md, "Head files").
func readHeadFile(path string) (audit.Head, error) {
	f, err := os.Open(path)
	if err != nil {
		return audit.Head{}, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, audit.MaxHeadFile+1))
	if err != nil {
		return audit.Head{}, err
	}
	return audit.ParseHead(b)
}

// usageErr marks err as "no verdict": `audit verify` exits 2 on it.
func usageErr(err error) error { return &exitError{code: 2, err: err} }

// usageArgs makes an argument check's error a usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageErr(err)
		}
		return nil
	}
}

type countingReader struct {
	r        io.Reader
	n, size  int64
	progress func(done, total int)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.progress(int(min(c.n, c.size)), int(c.size))
	return n, err
}

func (a *app) auditHeadCmd() *cobra.Command {
	var ref string
	var pubOnly bool
	cmd := &cobra.Command{
		Use:   "head (--tenant X | --public-key)",
		Short: "Sign and print the tenant's current head (one line of JSON), or print the public key to publish",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.cfg.AuditSigner == nil {
				return errors.New("configuration: neither TENANTRY_AUDIT_SIGNING_KEY (an Ed25519 seed, 64 hex digits) nor TENANTRY_AUDIT_SIGNING_KEY_FILE is set; `tenantry audit keygen --out FILE` makes a key")
			}
			if pubOnly {
				_, err := fmt.Fprintln(a.stdout, hex.EncodeToString(a.cfg.AuditSigner.PublicKey()))
				return err
			}
			ctx := cmd.Context()
			id, store, _, closePool, err := tenantRef(ctx, a, ref)
			if err != nil {
				return err
			}
			defer closePool()
			head, err := audit.SignHead(ctx, store, a.cfg.AuditSigner, id, time.Now())
			if err != nil {
				return err
			}
			return json.NewEncoder(a.stdout).Encode(head)
		},
	}
	cmd.Flags().StringVar(&ref, "tenant", "", "the tenant, by slug or id")
	cmd.Flags().BoolVar(&pubOnly, "public-key", false, "print the public key (64 hex digits) instead")
	return cmd
}

func (a *app) auditReplayCmd() *cobra.Command {
	var ref, asOf string
	cmd := &cobra.Command{
		Use:   "replay --tenant X [--as-of TIME]",
		Short: "Rebuild the tenant's profile, plan, status, members and usage totals as of an instant, from its events alone",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			at := time.Now()
			if asOf != "" {
				t, err := time.Parse(time.RFC3339Nano, asOf)
				if err != nil {
					return usageErr(fmt.Errorf("--as-of %q: want an RFC 3339 time such as 2026-11-25T10:00:00Z", asOf))
				}
				at = t
			}
			ctx := cmd.Context()
			id, store, reg, closePool, err := tenantRef(ctx, a, ref)
			if err != nil {
				return err
			}
			defer closePool()
			replay := usecase.Replay{History: eventstore.DomainStore{Store: store, Registry: reg}}
			st, err := replay.AsOf(ctx, usecase.ReplayInput{Tenant: id, AsOf: at})
			if err != nil {
				return err
			}
			enc := json.NewEncoder(a.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(st)
		},
	}
	cmd.Flags().StringVar(&ref, "tenant", "", "the tenant, by slug or id")
	cmd.Flags().StringVar(&asOf, "as-of", "", "the instant, RFC 3339 (default: now)")
	return cmd
}
