// Package endpoint holds the one type that the site model (sites) and the HostServices
// component both speak: a service on a host, by name and named ports. It is a leaf, so
// that sites can name it without linking the Kubernetes SDK.
package endpoint

// Service is one service on a host, exposed in the cluster under Name.
type Service struct {
	// Name of the in-cluster Service, e.g. "postgresql" (postgresql.<namespace>.svc.cluster.local).
	Name string
	// Ports the service listens on, on the host and in the Service alike.
	Ports []Port
}

// Port is a named TCP port.
type Port struct {
	Name string
	Port int
}
