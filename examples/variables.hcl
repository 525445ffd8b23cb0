# Variables, locals, functions and dynamic blocks. Run with e.g.
#   nctl apply -f variables.hcl -var instances=4 -var 'regions=["a","b"]'
variable "instances" {
  type        = number
  default     = 2
  description = "how many API instances to run"

  validation {
    condition     = var.instances > 0 && var.instances <= 50
    error_message = "instances must be between 1 and 50"
  }
}

variable "image_tag" {
  type    = string
  default = "1.4.2"
}

variable "ports" {
  type    = map(number)
  default = { http = 8080, metrics = 9100 }
}

locals {
  name    = "api-${replace(var.image_tag, ".", "-")}"
  command = "/opt/api/${var.image_tag}/bin/api"
}

job "api" {
  group "api" {
    count = var.instances

    network {
      dynamic "port" {
        for_each = var.ports
        labels   = [port.key]

        content {
          to = port.value
        }
      }
    }

    task "api" {
      driver = "raw_exec"

      config {
        command = local.command
        args    = [for p in keys(var.ports) : "--${p}=${var.ports[p]}"]
      }

      env {
        SERVICE_NAME = upper(local.name)
        REPLICAS     = format("%d", var.instances)
      }

      resources {
        cpu    = max(100, var.instances * 50)
        memory = 256
      }
    }
  }
}
