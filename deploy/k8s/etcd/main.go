// etcd for the local Kubernetes, built from the module proxy like the cluster's own binaries.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
