# Short names for the common commands. `just` is a convenience: every recipe
# is a plain cargo or shell command, and CI (.ci/run) needs none of them.

# The suite against the embedded reference server (the main job).
run *ARGS:
    cargo run -q -- run {{ARGS}}

# The tests (the README's test command).
test:
    cargo test --locked

# Lints as CI's reviewers expect them.
lint:
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings

# Start a peer MTA on loopback and run the suite against it with its pinned grades.
peer NAME:
    bash fixtures/peers/{{NAME}}.sh start
    cargo run -q -- run --profile fixtures/targets/{{NAME}}.toml --expect-grades fixtures/expected/{{NAME}}.grades

# Rewrite a peer's pinned grades after a deliberate change (review the diff).
peer-bless NAME:
    bash fixtures/peers/{{NAME}}.sh start
    cargo run -q -- run --profile fixtures/targets/{{NAME}}.toml --write-grades fixtures/expected/{{NAME}}.grades

# Regenerate the transcript snapshots, then review `git diff snapshots/`.
snapshots:
    rm -rf snapshots
    INSTA_UPDATE=always cargo test --test snapshots

# Everything CI runs, including the peer tier.
ci:
    bash .ci/run
