# A system job: one log shipper on every linux node, including nodes that
# join later.
job "log-shipper" {
  type     = "system"
  priority = 90

  constraint {
    attribute = "${attr.kernel.name}"
    operator  = "="
    value     = "linux"
  }

  group "shipper" {
    task "ship" {
      driver = "raw_exec"

      config {
        command = "/usr/local/bin/shipper"
        args    = ["--node", "${node.unique.name}"]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
