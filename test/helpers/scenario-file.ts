import { parseScenario, ScenarioFileError } from '../../lab/scenario-file';

/** The ScenarioFileError that loading `text` (as story.yaml) must throw. */
export function scenarioFailure(text: string): ScenarioFileError {
  try {
    parseScenario(text, 'story.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(ScenarioFileError);
    return error as ScenarioFileError;
  }
  throw new Error('the scenario loaded; a ScenarioFileError was expected');
}
