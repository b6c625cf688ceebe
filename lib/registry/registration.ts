import { checkInteger, checkNumber, checkOptionsObject, checkString } from '../common/option-checks.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';

/** What a provider publishes about itself. */
export interface Registration {
  service: string;
  /** Defaults to the registry's group (Nacos: `DEFAULT_GROUP`). */
  group?: string;
  host: string;
  port: number;
  /** Defaults to 1. Nacos turns 0 into 1 on registration (its client treats 0 as "unset"). */
  weight?: number;
  /** Defaults to the registry's cluster (Nacos: `DEFAULT`). */
  cluster?: string;
  metadata?: Record<string, string>;
}

/** Rejects a malformed registration before any network traffic, naming the bad field. */
export function checkRegistration(reg: Registration): void {
  checkOptionsObject('Registration', reg, ['service', 'group', 'host', 'port', 'weight', 'cluster', 'metadata']);
  checkString('Registration.service', reg.service);
  if (reg.group !== undefined) checkString('Registration.group', reg.group);
  checkString('Registration.host', reg.host);
  checkInteger('Registration.port', reg.port, 1, 65535);
  if (reg.weight !== undefined) checkNumber('Registration.weight', reg.weight, 0, 10_000);
  if (reg.cluster !== undefined) checkString('Registration.cluster', reg.cluster);
  if (reg.metadata !== undefined) {
    if (reg.metadata === null || typeof reg.metadata !== 'object') {
      throw new InvalidOptionsError('Registration.metadata', 'expected an object of strings');
    }
    for (const [key, value] of Object.entries(reg.metadata)) checkString(`Registration.metadata.${key}`, value, true);
  }
}
