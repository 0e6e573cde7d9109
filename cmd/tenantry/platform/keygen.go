package platform

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/tenantry/tenantry/domain/auditlog"
)

// keygenAnswer is what `tenantry audit keygen --json` prints. PrivateKey is set only when
// the key goes to standard output (no --out): with --out, the secret stays in the file.
type keygenAnswer struct {
	PublicKey  string `json:"public_key"`
	KeyID      string `json:"key_id"`
	File       string `json:"file,omitempty"`
	PrivateKey string `json:"private_key,omitempty"`
}

// auditKeygenCmd makes a new Ed25519 head signing key. The private key is written as its
// 32-byte seed in hex, one line: the encoding TENANTRY_AUDIT_SIGNING_KEY takes, and what
// TENANTRY_AUDIT_SIGNING_KEY_FILE reads.
func (a *app) auditKeygenCmd() *cobra.Command {
	var out string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "keygen [--out FILE] [--json]",
		Short: "Make an Ed25519 head signing key: write it to FILE (mode 0600, never over an existing file) and print its public key",
		Long: "keygen makes a new Ed25519 key for signing tenant heads. With --out, the private key (a 32-byte\n" +
			"seed in hex, the encoding TENANTRY_AUDIT_SIGNING_KEY takes) is written to FILE, created with mode\n" +
			"0600 (readable by its owner only, as TENANTRY_AUDIT_SIGNING_KEY_FILE requires); an existing FILE is\n" +
			"never overwritten. Standard output then gets the public key, 64 hex digits, as `audit head\n" +
			"--public-key` prints it: publish it to auditors. Without --out, the private key goes to standard\n" +
			"output (to pipe into a secret store) and the public key to standard error.\n" +
			"--json prints one object instead: public_key, key_id, and file (with --out) or private_key.",
		Args: usageArgs(cobra.NoArgs),
		// Making a key needs no configuration (and no database); the products are still checked.
		PersistentPreRunE: a.productsChecked,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pub, priv, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			seed := hex.EncodeToString(priv.Seed())
			ans := keygenAnswer{PublicKey: hex.EncodeToString(pub), KeyID: auditlog.KeyID(pub)}
			if out == "" || out == "-" {
				ans.PrivateKey = seed
				if asJSON {
					return json.NewEncoder(a.stdout).Encode(ans)
				}
				if _, err := fmt.Fprintln(a.stdout, seed); err != nil {
					return err
				}
				_, err := fmt.Fprintf(cmd.ErrOrStderr(), "public key: %s\n", ans.PublicKey)
				return err
			}
			if err := writeKeyFile(out, seed+"\n"); err != nil {
				return err
			}
			ans.File = out
			if asJSON {
				return json.NewEncoder(a.stdout).Encode(ans)
			}
			_, err = fmt.Fprintln(a.stdout, ans.PublicKey)
			return err
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the private key to this new file (mode 0600); default standard output")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object: public_key, key_id, file or private_key")
	return cmd
}

// writeKeyFile creates path with mode 0600 and writes key into it; it refuses an existing
// path (a signing key is never replaced by accident: heads signed with it could no longer be
// told from forgeries once it is gone) and leaves no partial file behind.
func writeKeyFile(path, key string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists: refusing to overwrite a signing key (move it away first, or choose another --out)", path)
	}
	if err != nil {
		return err
	}
	// The mode is set again in case the umask took bits away from 0600 (it cannot add any).
	_, err = io.WriteString(f, key)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
