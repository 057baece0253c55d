package deploy

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"k8s.io/client-go/rest"
)

// GKEOptions locate a GKE cluster.
type GKEOptions struct {
	Project, Location, Cluster string
	// TokenSource authenticates to the GKE API and the cluster; nil is application default
	// credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's, or the metadata server).
	TokenSource oauth2.TokenSource
	// API is the GKE API's base URL and Client its HTTP client; tests point them elsewhere.
	API    string
	Client *http.Client
}

// GKEConfig asks the GKE API for a cluster's endpoint and CA, and returns a client config that
// authenticates with the same credentials: no kubeconfig, no gcloud needed.
func GKEConfig(ctx context.Context, o GKEOptions) (*rest.Config, error) {
	src := o.TokenSource
	if src == nil {
		creds, err := google.FindDefaultCredentials(ctx, "https://www.googleapis.com/auth/cloud-platform")
		if err != nil {
			return nil, fmt.Errorf("application default credentials: %w\n\trun `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS", err)
		}
		src = creds.TokenSource
	}
	api := o.API
	if api == "" {
		api = "https://container.googleapis.com"
	}
	base := o.Client
	if base == nil {
		base = http.DefaultClient
	}
	client := &http.Client{Transport: &oauth2.Transport{Source: src, Base: base.Transport}, Timeout: 30 * time.Second}
	u := fmt.Sprintf("%s/v1/projects/%s/locations/%s/clusters/%s", api, url.PathEscape(o.Project), url.PathEscape(o.Location), url.PathEscape(o.Cluster))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GKE API: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GKE API: cluster %s in %s/%s: %s: %s", o.Cluster, o.Project, o.Location, resp.Status, firstLine(string(body)))
	}
	var c struct {
		Endpoint   string `json:"endpoint"`
		MasterAuth struct {
			ClusterCaCertificate string `json:"clusterCaCertificate"`
		} `json:"masterAuth"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("GKE API: %w", err)
	}
	ca, err := base64.StdEncoding.DecodeString(c.MasterAuth.ClusterCaCertificate)
	if err != nil || c.Endpoint == "" {
		return nil, fmt.Errorf("GKE API: cluster %s has no usable endpoint or CA", o.Cluster)
	}
	return &rest.Config{
		Host:            "https://" + c.Endpoint,
		TLSClientConfig: rest.TLSClientConfig{CAData: ca},
		WrapTransport:   func(rt http.RoundTripper) http.RoundTripper { return &oauth2.Transport{Source: src, Base: rt} },
	}, nil
}
