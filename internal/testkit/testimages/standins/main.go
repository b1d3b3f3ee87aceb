// Command standins is TEST-ONLY: the stand-ins for the compose images no served module
// builds, run in the test images under the official images' program names.
//
//   - qdrant: Qdrant's REST API as our project, backups and restores use it, on :6333 (and a
//     listener on :6334 for gRPC's port, which answers nothing): GET / and /healthz,
//     collections (PUT /collections/NAME, GET /collections, PUT /collections/NAME/points,
//     POST /collections/NAME/points/count) kept under /qdrant/storage, and full snapshots
//     (POST /snapshots, GET and DELETE /snapshots/NAME, POST /snapshots/upload with the
//     multipart field "snapshot", which replaces the storage with the snapshot's).
//   - minio: `minio server DIR [--console-address ADDR]`: S3 over HTTP on :9000 for the root
//     user of MINIO_ROOT_USER/MINIO_ROOT_PASSWORD (every request's AWS Signature V4 is
//     checked): buckets (list, create, head, delete), objects (put, get, head, delete, list
//     v2) as files under DIR, and /minio/health/{live,ready}.
//   - mc: `mc ready ALIAS`, `mc mb [--ignore-existing|-p] ALIAS/BUCKET...`, `mc ls ALIAS[/BUCKET]`,
//     with aliases from MC_HOST_<alias> (http://KEY:SECRET@HOST:PORT) and "local" at
//     http://127.0.0.1:9000 (as in the minio image).
package main

import (
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	var err error
	switch name := filepath.Base(os.Args[0]); name {
	case "qdrant":
		err = qdrant(os.Args[1:])
	case "minio":
		err = minio(os.Args[1:])
	case "mc":
		err = mc(os.Args[1:])
	default:
		err = fmt.Errorf("standins: run as qdrant, minio or mc, not %s", name)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
