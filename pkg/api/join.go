package api

// NodeJoinRequest is what a node agent sends to POST /v1/node/join to get
// its own etcd credentials (and, when the servers hold a node CA, its TLS
// certificate).
type NodeJoinRequest struct {
	NodeID string `json:"node_id"`
	// Token is one of the servers' join tokens.
	Token string `json:"token"`
	// Password is the node's current etcd password, when it has joined
	// before: it gets a new one (rotation).
	Password string `json:"password,omitempty"`
	// Hosts are the IP addresses and names the node agent's endpoints are
	// reached at, for its certificate.
	Hosts []string `json:"hosts,omitempty"`
}

// NodeJoinResponse carries a node's credentials. They are shown once:
// the servers keep no copy (etcd keeps a hash of the password).
type NodeJoinResponse struct {
	NodeID       string `json:"node_id"`
	EtcdUsername string `json:"etcd_username"`
	EtcdPassword string `json:"etcd_password"`
	// CACert, Cert and Key (PEM) are the node agent's TLS identity and the
	// CA its callers' certificates must be signed by; empty when the
	// servers hold no node CA.
	CACert string `json:"ca_cert,omitempty"`
	Cert   string `json:"cert,omitempty"`
	Key    string `json:"key,omitempty"`
}

// StatusRelayRequest is what a node agent sends to PUT
// /v1/node/<node>/allocation-statuses: the newest statuses of some of its
// allocations, by allocation ID, for a server to write to etcd with other
// nodes' statuses.
type StatusRelayRequest struct {
	Statuses map[string]*AllocStatus `json:"statuses"`
}

// StatusRelayResponse says how many statuses the server wrote.
type StatusRelayResponse struct {
	Written int `json:"written"`
}
