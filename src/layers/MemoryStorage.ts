/** Every repository in memory (and a per-process secret): tests and `serve --memory`. */
import { Layer } from "effect"
import { BlueprintRepo } from "../services/repos/BlueprintRepo.js"
import { CapabilityRepo } from "../services/repos/CapabilityRepo.js"
import { EventRepo } from "../services/repos/EventRepo.js"
import { OutputRepo } from "../services/repos/OutputRepo.js"
import { RunRepo } from "../services/repos/RunRepo.js"
import { SeatRepo } from "../services/repos/SeatRepo.js"
import { ServerSecret } from "../services/repos/ServerSecret.js"
import { SessionRepo } from "../services/repos/SessionRepo.js"
import { StorageInfo } from "../services/repos/StorageInfo.js"
import { StepRepo } from "../services/repos/StepRepo.js"
import { TaskRepo } from "../services/repos/TaskRepo.js"
import { Transactions } from "../services/repos/Transactions.js"

export const MemoryStorage = Layer.mergeAll(
  BlueprintRepo.memory,
  TaskRepo.memory,
  RunRepo.memory,
  SeatRepo.memory,
  StepRepo.memory,
  EventRepo.memory,
  OutputRepo.memory,
  CapabilityRepo.memory,
  SessionRepo.memory,
  ServerSecret.memory,
  StorageInfo.memory,
  Transactions.memory
)
