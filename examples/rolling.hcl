# A service rolled out under deployments, runnable as-is on a dev agent:
#   nctl apply -f examples/rolling.hcl                  # version 0, three instances
#   nctl apply -f examples/rolling.hcl --var release=2  # replaced one at a time, each healthy first
#   nctl apply -f examples/rolling.hcl --var release=3 --var fail=true
#                                                       # fails its health, rolls back to release 2
variable "release" {
  type    = number
  default = 1
}

variable "fail" {
  type    = bool
  default = false
}

job "rolling" {
  type = "service"

  update {
    max_parallel      = 1
    health_check      = "task_states"
    min_healthy_time  = "3s"
    healthy_deadline  = "30s"
    progress_deadline = "1m"
    auto_revert       = true
  }

  group "app" {
    count = 3

    restart {
      attempts = 0
      mode     = "fail"
    }

    task "server" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", var.fail ? "echo release ${var.release} is broken; exit 1" : "echo release ${var.release}; exec sleep 86400"]
      }

      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
