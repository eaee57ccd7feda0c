package coordinator

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// backupChunk is the size of the chunks BackupDatabase streams.
const backupChunk = 1 << 20

// adminServer implements pb.AdminServiceServer.
type adminServer struct {
	pb.UnimplementedAdminServiceServer
	c *Coordinator
}

// chunkWriter sends what is written to it as BackupDatabase chunks.
type chunkWriter struct {
	stream grpc.ServerStreamingServer[pb.BackupDatabaseResponse]
	size   int64
	buf    []byte
	sent   bool
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		take := min(backupChunk-len(w.buf), len(p))
		w.buf = append(w.buf, p[:take]...)
		p = p[take:]
		if len(w.buf) == backupChunk {
			if err := w.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (w *chunkWriter) flush() error {
	if len(w.buf) == 0 && w.sent {
		return nil
	}
	resp := &pb.BackupDatabaseResponse{Chunk: w.buf}
	if !w.sent {
		resp.Size = w.size
		w.sent = true
	}
	err := w.stream.Send(resp)
	w.buf = w.buf[:0]
	return err
}

// BackupDatabase streams a consistent snapshot of the database from one read
// transaction; writers go on meanwhile.
func (s *adminServer) BackupDatabase(_ *pb.BackupDatabaseRequest, stream grpc.ServerStreamingServer[pb.BackupDatabaseResponse]) error {
	w := &chunkWriter{stream: stream, buf: make([]byte, 0, backupChunk)}
	err := s.c.store.Backup(func(size int64) { w.size = size }, w)
	if err == nil {
		err = w.flush()
	}
	if err != nil {
		return status.Errorf(codes.Internal, "backup: %v", err)
	}
	s.c.log.Info("database backed up", "bytes", w.size)
	return nil
}
