package handlers

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-chi/chi/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trystgw/tryst/api"
	"github.com/trystgw/tryst/ds"
	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/rendezvous"
	"github.com/trystgw/tryst/store/memstore"
)

// loadOpenAPI loads and validates the repository's openapi.yaml.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile("../openapi.yaml")
	if err != nil {
		t.Fatalf("loading openapi.yaml: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// TestOpenAPIMatchesRouter checks that the document and the router list
// the same routes with the same methods, under the default mounts.
func TestOpenAPIMatchesRouter(t *testing.T) {
	doc := loadOpenAPI(t)
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	store := memstore.NewRendezvous(nil)
	deps := Deps{Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(),
		Rendezvous: rendezvous.NewService(store, memstore.NewNotifier[rendezvous.ID](), nil, rendezvous.Config{}),
		Tokens:     ntf.NewService(nil, nil, nil, slog.New(slog.DiscardHandler), ntf.Config{}),
		DS:         ds.NewService(nil, nil, slog.New(slog.DiscardHandler), ds.Config{})}
	deps.Subscriptions = ntf.NewSubscriptions(deps.Tokens, nil, nil, nil)
	mounts, _ := api.ParseMounts(api.DefaultMounts)
	r := newRouter(Config{Mounts: mounts}, deps, newMetrics(deps.Registry))
	var routed []string
	err := chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		// chi's catch-all is one named path parameter in OpenAPI.
		routed = append(routed, method+" "+strings.Replace(route, "/*", "/{file}", 1))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(documented)
	slices.Sort(routed)
	if diff := cmp.Diff(documented, routed); diff != "" {
		t.Errorf("openapi.yaml and the router differ (-documented +routed):\n%s", diff)
	}
}

// TestOpenAPIErrorCodes checks that the document lists exactly the error
// codes the api package defines.
func TestOpenAPIErrorCodes(t *testing.T) {
	doc := loadOpenAPI(t)
	var documented []string
	for _, v := range doc.Components.Schemas["Error"].Value.Properties["errcode"].Value.Enum {
		documented = append(documented, v.(string))
	}
	defined := api.ErrorCodes()
	slices.Sort(documented)
	slices.Sort(defined)
	if diff := cmp.Diff(defined, documented); diff != "" {
		t.Errorf("error codes differ (-api +openapi.yaml):\n%s", diff)
	}
}
