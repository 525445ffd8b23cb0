# A periodic batch job: a nightly backup and a noon one, in Paris time,
# never two at once.
job "backup" {
  type = "batch"

  periodic {
    crons            = ["0 2 * * *", "0 12 * * *"]
    time_zone        = "Europe/Paris"
    prohibit_overlap = true
  }

  group "backup" {
    task "dump" {
      driver = "raw_exec"

      config {
        command = "/usr/local/bin/backup"
      }

      resources {
        cpu    = 250
        memory = 512
      }
    }
  }
}
