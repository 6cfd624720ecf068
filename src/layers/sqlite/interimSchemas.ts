// INTERIM: replaced by the record schemas of src/protocol once they land (branch owners).
import { Schema } from "effect"
import type { BlueprintRecord } from "../../services/repos/BlueprintRepo.js"
import type { CapabilityRecord } from "../../services/repos/CapabilityRepo.js"
import type { RunEvent } from "../../services/repos/EventRepo.js"
import type { OutputRecord } from "../../services/repos/OutputRepo.js"
import type { RunRecord } from "../../services/repos/RunRepo.js"
import type { SessionRecord } from "../../services/repos/SessionRepo.js"
import type { StepRecord } from "../../services/repos/StepRepo.js"
import type { TaskRecord } from "../../services/repos/TaskRepo.js"

const any = <A>() => Schema.Any as unknown as Schema.Schema<A, any>
export const SessionRecordSchema = any<SessionRecord>()
export const BlueprintRecordSchema = any<BlueprintRecord>()
export const TaskRecordSchema = any<TaskRecord>()
export const RunRecordSchema = any<RunRecord>()
export const StepRecordSchema = any<StepRecord>()
export const RunEventSchema = any<RunEvent>()
export const OutputMetaSchema = any<Omit<OutputRecord, "body">>()
export const CapabilityRecordSchema = any<CapabilityRecord>()
