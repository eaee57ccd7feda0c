package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/flatsweep/flatsweep/coordinator/store"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

func newBackupCmd() *cobra.Command {
	var conn connFlags
	cmd := &cobra.Command{
		Use:   "backup OUT.db",
		Short: "Copy the live coordinator's database to a file (hot backup: the coordinator keeps serving)",
		Args:  exactArgs(1, "one output file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := args[0]
			if _, err := os.Stat(out); err == nil {
				return usagef("backup %s: the file exists; choose a new name", out)
			}
			cc, err := conn.dial()
			if err != nil {
				return err
			}
			defer cc.Close()
			stream, err := pb.NewAdminServiceClient(cc).BackupDatabase(cmd.Context(), &pb.BackupDatabaseRequest{})
			if err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			tmp, err := os.CreateTemp(filepath.Dir(out), ".flatsweep-backup-*")
			if err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			defer os.Remove(tmp.Name())
			var want, got int64
			for {
				resp, err := stream.Recv()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					tmp.Close()
					return fmt.Errorf("backup: %w", err)
				}
				if resp.Size > 0 {
					want = resp.Size
				}
				n, err := tmp.Write(resp.Chunk)
				got += int64(n)
				if err != nil {
					tmp.Close()
					return fmt.Errorf("backup: write %s: %w", tmp.Name(), err)
				}
			}
			if err := tmp.Sync(); err != nil {
				tmp.Close()
				return fmt.Errorf("backup: %w", err)
			}
			if err := tmp.Close(); err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			if got != want {
				return fmt.Errorf("backup: received %d bytes, the coordinator announced %d", got, want)
			}
			// Check the copy opens as a flatsweep database before keeping it.
			st, err := store.Open(tmp.Name())
			if err != nil {
				return fmt.Errorf("backup: the copy does not open: %w", err)
			}
			sws, err := st.ListSweeps()
			st.Close()
			if err != nil {
				return fmt.Errorf("backup: the copy does not read: %w", err)
			}
			if err := os.Rename(tmp.Name(), out); err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backed up %d bytes (%d sweeps) to %s\n", got, len(sws), out)
			return nil
		},
	}
	addConnFlags(cmd, &conn)
	return cmd
}
