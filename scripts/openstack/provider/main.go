// Command pulumi-resource-openstack is the Pulumi OpenStack provider that herd's engine tests run:
// terraform-provider-openstack v1.54.1 behind pulumi-terraform-bridge, with the tokens and
// property names of the @pulumi/openstack SDK that herd uses (3.15.2, which wraps that same
// upstream version). Pulumi's own provider module is not served by the Go module proxy, its parts
// are; scripts/openstack/provider.sh builds this file in a generated wrapper module.
//
// Besides serving the provider (what the Pulumi engine starts it for), it answers:
//
//	-get-provider-info   the bridge's mapping (tokens, fields, Terraform schema) as JSON
//	-herd-properties     every token with the Pulumi names of its top-level properties, as JSON:
//	                     provider.sh compares them with the SDK's declarations
//	-version             the version it reports (3.15.2)
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shim "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/terraform-provider-openstack/terraform-provider-openstack/openstack"
)

// The version of @pulumi/openstack whose names this provider serves: the engine looks the plugin
// up by the version the SDK asks for.
const version = "3.15.2"

func provider() tfbridge.ProviderInfo {
	no := false
	// Settings the SDK documents as read from the environment (the upstream provider reads the
	// other OS_* variables itself).
	env := func(name string) *tfbridge.SchemaInfo {
		return &tfbridge.SchemaInfo{Default: &tfbridge.DefaultInfo{EnvVars: []string{name}}}
	}
	info := tfbridge.ProviderInfo{
		P:           shimv2.NewProvider(openstack.Provider()),
		Name:        "openstack",
		Version:     version,
		Description: "herd's build of the Pulumi OpenStack provider (engine tests).",
		GitHubOrg:   "terraform-provider-openstack",
		Config: map[string]*tfbridge.SchemaInfo{
			"region":        env("OS_REGION_NAME"),
			"insecure":      env("OS_INSECURE"),
			"endpoint_type": env("OS_ENDPOINT_TYPE"),
			"swauth":        env("OS_SWAUTH"),
			"use_octavia":   env("OS_USE_OCTAVIA"),
			"cloud":         env("OS_CLOUD"),
			"delayed_auth":  env("OS_DELAYED_AUTH"),
			"allow_reauth":  env("OS_ALLOW_REAUTH"),
		},
		Resources:   map[string]*tfbridge.ResourceInfo{},
		DataSources: map[string]*tfbridge.DataSourceInfo{},
	}
	for tf, tok := range resourceTokens {
		info.Resources[tf] = &tfbridge.ResourceInfo{Tok: tokens.Type(tok)}
	}
	for tf, tok := range dataSourceTokens {
		info.DataSources[tf] = &tfbridge.DataSourceInfo{Tok: tokens.ModuleMember(tok)}
	}
	// Where the SDK's shape is not the bridge's default for the Terraform schema.
	// A server group takes `policies: ["anti-affinity"]`: upstream declares the list MaxItems 1,
	// which the bridge would flatten to a single string.
	info.Resources["openstack_compute_servergroup_v2"].Fields = map[string]*tfbridge.SchemaInfo{
		"policies": {MaxItemsOne: &no},
	}
	// Two subnet attributes would both be named allocationPools.
	info.Resources["openstack_networking_subnet_v2"].Fields = map[string]*tfbridge.SchemaInfo{
		"allocation_pool":  {Name: "allocationPools"},
		"allocation_pools": {Name: "allocationPoolsCollection"},
	}
	// `outputs` is reserved on a Pulumi resource.
	info.Resources["openstack_orchestration_stack_v1"].Fields = map[string]*tfbridge.SchemaInfo{
		"outputs": {Name: "StackOutputs"},
	}
	// Resources without a `name` get `<resource name>-<random>`, as with Pulumi's build.
	info.SetAutonaming(255, "-")
	return info
}

// properties prints, for every token, the sorted Pulumi names of its top-level properties (the
// resource's state or the function's arguments and result).
func properties(info tfbridge.ProviderInfo) error {
	out := map[string][]string{}
	add := func(kind, tf, tok string, all shim.ResourceMap, fields map[string]*tfbridge.SchemaInfo) error {
		res, ok := all.GetOk(tf)
		if !ok {
			return fmt.Errorf("the token table names the %s %s, which upstream does not have", kind, tf)
		}
		list := []string{}
		res.Schema().Range(func(key string, _ shim.Schema) bool {
			list = append(list, tfbridge.TerraformToPulumiNameV2(key, res.Schema(), fields))
			return true
		})
		sort.Strings(list)
		out[tok] = list
		return nil
	}
	for tf, r := range info.Resources {
		if err := add("resource", tf, string(r.Tok), info.P.ResourcesMap(), r.Fields); err != nil {
			return err
		}
	}
	for tf, d := range info.DataSources {
		if err := add("data source", tf, string(d.Tok), info.P.DataSourcesMap(), d.Fields); err != nil {
			return err
		}
	}
	// Upstream resources missing from the table would be served under no token at all.
	var missing []string
	info.P.ResourcesMap().Range(func(key string, _ shim.Resource) bool {
		if _, ok := info.Resources[key]; !ok {
			missing = append(missing, "resource "+key)
		}
		return true
	})
	info.P.DataSourcesMap().Range(func(key string, _ shim.Resource) bool {
		if _, ok := info.DataSources[key]; !ok {
			missing = append(missing, "data source "+key)
		}
		return true
	})
	if len(missing) > 0 {
		return fmt.Errorf("upstream has what the token table lacks: %v", missing)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	return enc.Encode(out)
}

func main() {
	info := provider()
	if len(os.Args) == 2 && os.Args[1] == "-herd-properties" {
		if err := properties(info); err != nil {
			fmt.Fprintln(os.Stderr, "pulumi-resource-openstack:", err)
			os.Exit(1)
		}
		return
	}
	// No Pulumi schema: the engine does not need one to run programs (it only serves
	// `pulumi package get-schema`), and without one the bridge skips its experimental type check.
	tfbridge.Main("openstack", version, info, nil)
}
