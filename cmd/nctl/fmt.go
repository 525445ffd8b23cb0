package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/nomadic-project/nomadic/pkg/jobspec"
	"github.com/spf13/cobra"
)

func newFmtCmd(g *globals) *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "fmt [FILE|DIR|-]...",
		Short: "Rewrite HCL job files in the canonical format",
		Long: "Rewrite HCL job files (.hcl, .nomad) in the canonical format. With no argument, the files of the " +
			"current directory. With -check, nothing is written: the files that need formatting are listed " +
			"and the exit code is 1 if there is any. '-' formats standard input to standard output.",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"."}
			}
			var files []string
			for _, a := range args {
				if a == "-" {
					src, err := io.ReadAll(cmd.InOrStdin())
					if err != nil {
						return err
					}
					out, err := formatHCL("<stdin>", src)
					if err != nil {
						return err
					}
					if check {
						if !bytes.Equal(out, src) {
							return &exitError{code: 1, err: errors.New("<stdin> is not formatted")}
						}
						continue
					}
					_, err = g.out.Write(out)
					return err
				}
				fi, err := os.Stat(a)
				if err != nil {
					return err
				}
				if !fi.IsDir() {
					files = append(files, a)
					continue
				}
				entries, err := os.ReadDir(a)
				if err != nil {
					return err
				}
				for _, e := range entries {
					ext := strings.ToLower(filepath.Ext(e.Name()))
					if !e.IsDir() && (ext == ".hcl" || ext == ".nomad") {
						files = append(files, filepath.Join(a, e.Name()))
					}
				}
			}
			sort.Strings(files)
			var unformatted []string
			var errs []error
			for _, f := range files {
				src, err := os.ReadFile(f)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				out, err := formatHCL(f, src)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if bytes.Equal(out, src) {
					continue
				}
				unformatted = append(unformatted, f)
				fmt.Fprintln(g.out, f)
				if !check {
					if err := os.WriteFile(f, out, 0o644); err != nil {
						errs = append(errs, err)
					}
				}
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			if check && len(unformatted) > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d file(s) need formatting; run nctl fmt", len(unformatted))}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "only list the files that need formatting; exit 1 if any")
	return cmd
}

// formatHCL checks the syntax of an HCL file and returns it formatted.
func formatHCL(name string, src []byte) ([]byte, error) {
	if _, diags := hclsyntax.ParseConfig(src, name, hcl.Pos{Line: 1, Column: 1}); diags.HasErrors() {
		return nil, &jobspec.Error{Diags: diags}
	}
	return hclwrite.Format(src), nil
}
