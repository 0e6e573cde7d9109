package platform

import (
	"encoding/json"
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// versionInfo is what `tenantry version` prints: the module version, the VCS revision the
// binary was built from and whether the tree had uncommitted changes, and the Go version.
type versionInfo struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Commit   string `json:"commit"`
	Modified bool   `json:"modified"`
	Time     string `json:"commit_time,omitempty"`
	Go       string `json:"go"`
}

// buildInfo reads the binary's build information; the test binary passes its own.
var buildInfo = debug.ReadBuildInfo

func readVersion() versionInfo {
	v := versionInfo{Module: "github.com/tenantry/tenantry", Version: "(unknown)", Commit: "(unknown)"}
	bi, ok := buildInfo()
	if !ok {
		return v
	}
	v.Go = bi.GoVersion
	if bi.Main.Path != "" {
		v.Module = bi.Main.Path
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		case "vcs.time":
			v.Time = s.Value
		}
	}
	return v
}

func (a *app) versionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version [--json]",
		Short: "Print the module version, the commit it was built from (and whether it had local changes), and the Go version",
		Args:  usageArgs(cobra.NoArgs),
		// No configuration is needed to say what the binary is; the products are still checked.
		PersistentPreRunE: a.productsChecked,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := readVersion()
			if asJSON {
				return json.NewEncoder(a.stdout).Encode(v)
			}
			commit := v.Commit
			if v.Modified {
				commit += " (modified)"
			}
			_, err := fmt.Fprintf(a.stdout, "tenantry %s\ncommit %s\n%s\n", v.Version, commit, v.Go)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object: module, version, commit, modified, commit_time, go")
	return cmd
}
