package main

import (
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/nomadic-project/nomadic/pkg/keyring/keyfile"
	"github.com/spf13/cobra"
)

func newKeyringCmd(g *globals) *cobra.Command {
	k := &cobra.Command{Use: "keyring", Short: "The servers' keyring, which encrypts variables and signs workload identities"}
	var output string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the keyring's keys and how many variables each seals",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			ctx, cancel := g.ctx()
			defer cancel()
			keys, err := g.client().KeyringKeys(ctx)
			if err != nil {
				return err
			}
			if output == "json" {
				return printJSON(g.out, keys)
			}
			tw := tabwriter.NewWriter(g.out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATE\tCREATED\tVARIABLES")
			for _, key := range keys {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", key.ID, key.State, key.CreateTime.Local().Format(time.RFC3339), key.Variables)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Make a new active key; the servers re-encrypt every variable under it in the background",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := g.ctx()
			defer cancel()
			key, err := g.client().RotateKeyring(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.out, "keyring key %s is active; variables are being re-encrypted under it (nctl operator keyring list)\n", key.ID)
			return nil
		},
	}
	var file string
	generate := &cobra.Command{
		Use:   "generate -f FILE",
		Short: "Write a new keyring file, to give every server with -keyring-file (does not contact a server)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return errors.New("say where to write the keyring file: -f FILE")
			}
			if _, err := os.Stat(file); err == nil {
				return fmt.Errorf("%s exists; a keyring file is not overwritten (its keys may seal variables)", file)
			}
			if err := keyfile.WriteFile(file, keyfile.Generate()); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "keyring file written to %s: copy it to every server and start them with -keyring-file %s\n", file, file)
			return nil
		},
	}
	generate.Flags().StringVarP(&file, "file", "f", "", "where to write the keyring file")
	k.AddCommand(list, rotate, generate)
	return k
}
