package jobspec

// Example is the job `nctl job init` writes. It runs as it is on
// `nomadic agent -dev`, which enables the raw_exec driver.
const Example = `# A service job that runs as-is on "nomadic agent -dev".
# Run it with:   nctl apply -f example.hcl
# Watch it with: nctl get allocs --job example
# Stop it with:  nctl delete job example
job "example" {
  # Where the job may run; "*" is every datacenter.
  datacenters = ["*"]

  # service jobs run until stopped; batch jobs run to completion.
  type = "service"

  # A group is placed as "count" allocations, each on one node.
  group "web" {
    count = 2

    task "server" {
      # raw_exec runs a plain process; dev agents enable it.
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "echo \"$GREETING from $NOMAD_ALLOC_NAME\"; while true; do sleep 5; done"]
      }

      env {
        GREETING = "hello"
      }

      # CPU in MHz and memory in MiB that the scheduler reserves.
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
`
