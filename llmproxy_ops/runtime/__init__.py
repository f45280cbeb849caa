"""What every target's runtime shares: the protocol (api.py), process supervision, identity,
recovery, the Copilot token store, nginx's upstream; each target's own runtime lives in its
package (llmproxy_ops/targets/<name>/runtime.py, docs/targets.md)."""
