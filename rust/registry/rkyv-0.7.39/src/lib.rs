//! Placeholder for resolution only: see rust/registry/README.md.
compile_error!(
    "this rkyv is a placeholder: build mmsync's mmap-sync-compat feature with \
     --config debian-registry.toml (or any registry that has the real crate)"
);
