# A realistic web service: three instances behind a dynamic port,
# registered in the built-in catalog with an HTTP check, rolled out one at
# a time with a canary.
job "web" {
  datacenters = ["dc1", "dc2"]
  type        = "service"
  priority    = 70

  meta {
    team = "storefront"
  }

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  update {
    max_parallel      = 1
    canary            = 1
    min_healthy_time  = "10s"
    healthy_deadline  = "3m"
    progress_deadline = "10m"
    auto_revert       = true
  }

  group "frontend" {
    count = 3

    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name     = "web-frontend"
      port     = "http"
      provider = "nomad"
      tags     = ["web", "v2"]

      check {
        type     = "http"
        path     = "/healthz"
        interval = "10s"
        timeout  = "2s"
      }
    }

    restart {
      attempts = 3
      interval = "5m"
      delay    = "10s"
      mode     = "delay"
    }

    ephemeral_disk {
      size = 500
    }

    task "server" {
      driver = "raw_exec"

      config {
        command = "/usr/local/bin/web"
        args    = ["-listen", ":${NOMAD_PORT_http}"]
      }

      env {
        LOG_LEVEL = "info"
        NODE_DC   = "${node.datacenter}"
      }

      resources {
        cpu        = 500
        memory     = 256
        memory_max = 512
      }

      kill_timeout = "20s"

      logs {
        max_files     = 5
        max_file_size = 20
      }
    }
  }
}
