import { MemoryStore } from '../../src/store/memory.js';
import { registrarSuite } from './registrar-suite.js';

registrarSuite('MemoryStore', () => Promise.resolve(new MemoryStore()));
