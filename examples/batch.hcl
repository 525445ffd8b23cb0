# A batch job: eight workers that run to completion; failures are
# restarted twice in place, then rescheduled once on another node.
job "report" {
  type = "batch"

  group "workers" {
    count = 8

    restart {
      attempts = 2
      delay    = "5s"
      mode     = "fail"
    }

    reschedule {
      attempts       = 1
      interval       = "1h"
      delay          = "30s"
      delay_function = "constant"
      unlimited      = false
    }

    task "crunch" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "echo crunching part $NOMAD_ALLOC_INDEX; sleep 10"]
      }

      resources {
        cpu    = 200
        memory = 128
      }
    }
  }
}
